package validation

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// PipelineLookup returns the Pipeline of the given name in the schedule's
// namespace, or (nil, nil) when there is none.
type PipelineLookup func(name string) (*v1alpha1.Pipeline, error)

// VersionContent reads the content of a kept version of p (its ConfigMap,
// runtime/api/versions), checked against the version's hash.
type VersionContent func(p *v1alpha1.Pipeline, v *v1alpha1.PipelineVersion) (v1alpha1.PipelineSpec, error)

// ValidateSchedule checks a Schedule: its name, its spec and, with a lookup, its
// run template against the pipeline (the pipeline exists, a pinned
// version is kept, the parameters are ones the pipeline declares, of their
// types). The admission webhook, the controller (before every fire) and
// kubeflow_schedule's plan (without a lookup) all call it, so a schedule
// is refused or reported for the same reasons everywhere. Each error names
// its field as the object spells it (spec.cron[1], spec.run.parameters[lr]).
// err is a failed lookup, which says nothing about the schedule. content
// reads versions' content; without it (or when it fails) the parameters
// are not checked against a version.
func ValidateSchedule(name string, spec v1alpha1.ScheduleSpec, lookup PipelineLookup, content VersionContent) (errs field.ErrorList, err error) {
	errs = append(errs, scheduleName(name)...)
	errs = append(errs, scheduleSpec(spec)...)
	if lookup == nil || spec.Run.Pipeline == "" {
		return errs, nil
	}
	p, err := lookup(spec.Run.Pipeline)
	if err != nil {
		return errs, err
	}
	return append(errs, ValidateScheduleRun(spec.Run, p, content)...), nil
}

// scheduleName checks what the CRD cannot say well: a name whose runs'
// names (<name>-<unix seconds>) fit in a label value.
func scheduleName(name string) field.ErrorList {
	at := field.NewPath("metadata", "name")
	if name == "" {
		return nil // generateName; the API server checks the result
	}
	var errs field.ErrorList
	for _, msg := range k8svalidation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(at, name, msg))
	}
	if len(name) > schedule.MaxNameLength {
		errs = append(errs, field.TooLong(at, name, schedule.MaxNameLength))
	}
	return errs
}

// ScheduleTrigger parses the fire times of a spec: cron or interval in its time
// zone, anchored at startTime or, without one, at anchor (the schedule's
// creation).
func ScheduleTrigger(spec v1alpha1.ScheduleSpec, anchor time.Time) (*schedule.Trigger, field.ErrorList) {
	s := schedule.Spec{Cron: spec.Cron, CronSeconds: spec.CronSeconds, TimeZone: spec.TimeZone, Anchor: anchor}
	if spec.Interval != nil {
		s.Interval = spec.Interval.Duration
	}
	if spec.StartTime != nil {
		s.Anchor = spec.StartTime.Time
	}
	t, problems := schedule.Parse(s)
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	for _, p := range problems {
		at := specPath.Child(p.Field)
		if i, ok := cronIndex(p.Field); ok {
			at = specPath.Child("cron").Index(i)
		}
		errs = append(errs, field.Invalid(at, p.Value, p.Detail))
	}
	return t, errs
}

func cronIndex(f string) (int, bool) {
	rest, ok := strings.CutPrefix(f, "cron[")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	return i, err == nil
}

func scheduleSpec(s v1alpha1.ScheduleSpec) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	switch hasCron := len(s.Cron) > 0; {
	case hasCron && s.Interval != nil:
		errs = append(errs, field.Invalid(spec.Child("interval"), s.Interval.Duration.String(), "exactly one of cron and interval may be set, and cron is set too"))
	case !hasCron && s.Interval == nil:
		errs = append(errs, field.Required(spec.Child("cron"), "exactly one of cron (such as \"0 0 * * *\", daily at midnight) and interval (such as 90m) must be set"))
	case len(s.Cron) > v1alpha1.MaxCronExpressions:
		errs = append(errs, field.TooMany(spec.Child("cron"), len(s.Cron), v1alpha1.MaxCronExpressions))
	}
	if s.CronSeconds && len(s.Cron) == 0 {
		errs = append(errs, field.Invalid(spec.Child("cronSeconds"), true, "applies to cron expressions, and none is set"))
	}
	for i, c := range s.Cron {
		if len(c) > v1alpha1.MaxCronExpressionLength {
			errs = append(errs, field.TooLong(spec.Child("cron").Index(i), c, v1alpha1.MaxCronExpressionLength))
		}
	}
	_, terrs := ScheduleTrigger(s, time.Unix(0, 0))
	errs = append(errs, terrs...)
	if s.StartTime != nil && s.EndTime != nil && !s.EndTime.After(s.StartTime.Time) {
		errs = append(errs, field.Invalid(spec.Child("endTime"), s.EndTime.UTC().Format(time.RFC3339), "must be after startTime ("+s.StartTime.UTC().Format(time.RFC3339)+")"))
	}
	errs = append(errs, concurrency(s)...)
	errs = append(errs, catchup(s)...)
	if d := s.StartingDeadline; d != nil && d.Duration < time.Second {
		errs = append(errs, field.Invalid(spec.Child("startingDeadline"), d.Duration.String(), "must be at least 1s (leave it unset for no deadline)"))
	}
	errs = append(errs, between(spec.Child("stopAfterFailures"), int64(s.StopAfterFailures), v1alpha1.MaxScheduleStopAfterFailures, "0 never stops")...)
	for name, limit := range map[string]*int32{"successfulRunsHistoryLimit": s.SuccessfulRunsHistoryLimit, "failedRunsHistoryLimit": s.FailedRunsHistoryLimit} {
		if limit != nil {
			errs = append(errs, between(spec.Child(name), int64(*limit), v1alpha1.MaxScheduleHistoryLimit, "0 keeps none")...)
		}
	}
	errs = append(errs, runTemplate(s.Run)...)
	return sortErrors(errs)
}

func concurrency(s v1alpha1.ScheduleSpec) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch s.ConcurrencyPolicy {
	case "", v1alpha1.ConcurrencyAllow:
	case v1alpha1.ConcurrencyForbid, v1alpha1.ConcurrencyReplace:
		if s.MaxConcurrency > 1 {
			errs = append(errs, field.Invalid(spec.Child("maxConcurrency"), s.MaxConcurrency, fmt.Sprintf("applies to concurrencyPolicy Allow; %s runs one at a time", s.ConcurrencyPolicy)))
		}
	default:
		errs = append(errs, field.NotSupported(spec.Child("concurrencyPolicy"), s.ConcurrencyPolicy, []string{string(v1alpha1.ConcurrencyAllow), string(v1alpha1.ConcurrencyForbid), string(v1alpha1.ConcurrencyReplace)}))
	}
	return append(errs, between(spec.Child("maxConcurrency"), int64(s.MaxConcurrency), v1alpha1.MaxScheduleMaxConcurrency, "0 or unset is 1")...)
}

func catchup(s v1alpha1.ScheduleSpec) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch s.Catchup {
	case "", v1alpha1.CatchupNone, v1alpha1.CatchupLatest:
	case v1alpha1.CatchupAll:
		if s.ConcurrencyPolicy == v1alpha1.ConcurrencyReplace {
			errs = append(errs, field.Invalid(spec.Child("catchup"), s.Catchup, "All with concurrencyPolicy Replace would cancel each late run with the next one; use Forbid or Allow to run missed fires one after another, or catchup Latest"))
		}
	default:
		errs = append(errs, field.NotSupported(spec.Child("catchup"), s.Catchup, []string{string(v1alpha1.CatchupNone), string(v1alpha1.CatchupLatest), string(v1alpha1.CatchupAll)}))
	}
	if s.CatchupFromSuspended && s.Catchup != v1alpha1.CatchupAll {
		errs = append(errs, field.Invalid(spec.Child("catchupFromSuspended"), true, "applies only with catchup All: a resumed schedule runs no fire it missed while suspended otherwise"))
	}
	return append(errs, between(spec.Child("maxCatchup"), int64(s.MaxCatchup), v1alpha1.MaxCatchupLimit, "0 or unset is 100")...)
}

// runTemplate checks the run each fire makes, as far as it is known
// without the pipeline: what PipelineRun admission checks, plus macros.
func runTemplate(r v1alpha1.ScheduleRunTemplate) field.ErrorList {
	run := field.NewPath("spec", "run")
	var errs field.ErrorList
	if r.Pipeline == "" {
		errs = append(errs, field.Required(run.Child("pipeline"), "name the Pipeline each fire runs"))
	} else {
		for _, msg := range k8svalidation.IsDNS1123Subdomain(r.Pipeline) {
			errs = append(errs, field.Invalid(run.Child("pipeline"), r.Pipeline, msg))
		}
	}
	if r.PipelineVersion < 0 {
		errs = append(errs, field.Invalid(run.Child("pipelineVersion"), r.PipelineVersion, "must not be negative (0 or unset: the latest version at each fire)"))
	}
	// What a PipelineRun's admission checks, at the template's paths.
	runSpec := v1alpha1.PipelineRunSpec{
		Parameters: r.Parameters, Executor: r.Executor, Parallelism: r.Parallelism,
		Timeout: r.Timeout, ServiceAccountName: r.ServiceAccountName, PipelineRoot: r.PipelineRoot,
	}
	for _, e := range ValidatePipelineRunSpec(runSpec) {
		e.Field = "spec.run." + strings.TrimPrefix(e.Field, "spec.")
		errs = append(errs, e)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
		if err := schedule.CheckMacros(r.Parameters[k]); err != nil && strings.TrimSpace(k) != "" {
			errs = append(errs, field.Invalid(run.Child("parameters").Key(k), r.Parameters[k], err.Error()))
		}
	}
	if r.Experiment != "" {
		for _, msg := range k8svalidation.IsDNS1123Label(r.Experiment) {
			errs = append(errs, field.Invalid(run.Child("experiment"), r.Experiment, msg))
		}
	}
	return errs
}

// ValidateScheduleRun checks a run template against its pipeline p (nil: the
// pipeline does not exist): a pinned version must be kept, and the
// parameters, with sample values for their macros, must bind to the
// version each fire would run: the pinned one, or the pipeline's current
// content (which becomes its latest version).
func ValidateScheduleRun(r v1alpha1.ScheduleRunTemplate, p *v1alpha1.Pipeline, content VersionContent) field.ErrorList {
	run := field.NewPath("spec", "run")
	if p == nil {
		return field.ErrorList{&field.Error{Type: field.ErrorTypeNotFound, Field: run.Child("pipeline").String(), BadValue: r.Pipeline,
			Detail: "no Pipeline of this name in the schedule's namespace; create it first"}}
	}
	spec, dag, version := p.Spec.Spec, p.Spec.DAG, "the current content"
	if r.PipelineVersion > 0 {
		v := p.Status.Version(r.PipelineVersion)
		if v == nil {
			kept := make([]string, 0, len(p.Status.Versions))
			for _, kv := range p.Status.Versions {
				kept = append(kept, strconv.Itoa(int(kv.Number)))
			}
			if len(kept) == 0 {
				kept = append(kept, "none yet")
			}
			return field.ErrorList{field.Invalid(run.Child("pipelineVersion"), r.PipelineVersion,
				fmt.Sprintf("pipeline %q has no version %d (kept: %s)", p.Name, r.PipelineVersion, strings.Join(kept, ", ")))}
		}
		if content == nil {
			return nil
		}
		c, err := content(p, v)
		if err != nil {
			return nil // the run reports its version's content when it starts
		}
		spec, dag, version = c.Spec, c.DAG, fmt.Sprintf("version %d", v.Number)
	}
	plan, err := CompileContent(spec, dag)
	if err != nil {
		if r.PipelineVersion == 0 && p.Status.LatestVersion > 0 {
			// Content that does not compile never becomes a version: the
			// latest valid one is what fires run.
			v := p.Status.Version(p.Status.LatestVersion)
			if v == nil || content == nil {
				return nil
			}
			c, err := content(p, v)
			if err != nil {
				return nil
			}
			if plan, err = CompileContent(c.Spec, c.DAG); err != nil {
				return nil
			}
			version = fmt.Sprintf("version %d", v.Number)
		} else {
			return nil // the Pipeline reports its own content
		}
	}
	sample := schedule.Macros{Scheduled: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Current: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Index: 1}
	given := map[string]any{}
	for k, v := range r.Parameters {
		if e, err := schedule.Expand(v, sample); err == nil {
			given[k] = e
		}
	}
	if _, err := plan.BindParameters(given); err != nil {
		var errs field.ErrorList
		params := run.Child("parameters")
		for _, fe := range pipeline.AsErrorList(err) {
			at := params
			if name, ok := parameterName(fe.Field); ok {
				at = params.Key(name)
			}
			errs = append(errs, field.Invalid(at, field.OmitValueType{}, fmt.Sprintf("%s (%s of pipeline %q)", fe.Err, version, p.Name)))
		}
		return errs
	}
	return nil
}

// parameterName extracts the name from a field `parameters["name"]` of a
// BindParameters error.
func parameterName(f string) (string, bool) {
	rest, ok := strings.CutPrefix(f, "parameters[")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(strings.TrimSuffix(rest, "]"))
	return name, err == nil
}

func between(at *field.Path, v, hi int64, note string) field.ErrorList {
	if v < 0 || v > hi {
		return field.ErrorList{field.Invalid(at, v, fmt.Sprintf("must be between 0 and %d (%s)", hi, note))}
	}
	return nil
}

// sortErrors orders errors by field, so that messages are stable.
func sortErrors(errs field.ErrorList) field.ErrorList {
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return errs
}
