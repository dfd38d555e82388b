package schedules

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// ownedRuns are the runs a schedule made, by name, with their fire times.
type ownedRuns map[string]ownedRun

type ownedRun struct {
	run *v1alpha1.PipelineRun
	at  time.Time
}

// observeRuns takes stock of the schedule's runs: finished ones are
// counted once (they leave status.active in the same write that counts
// them), and runs newer than lastScheduleTime, which a controller made
// before it could record them (it was killed, or lost a write conflict),
// are adopted.
func (p *pass) observeRuns(ctx context.Context) error {
	list := &v1alpha1.PipelineRunList{}
	if err := p.r.List(ctx, list, client.InNamespace(p.s.Namespace), client.MatchingFields{indexOwner: string(p.s.UID)}); err != nil {
		return fmt.Errorf("listing the schedule's runs: %w", err)
	}
	p.runs = ownedRuns{}
	for i := range list.Items {
		run := &list.Items[i]
		if at, ok := schedule.ScheduledTimeOf(p.s.Name, run.Name); ok {
			p.runs[run.Name] = ownedRun{run: run, at: at}
		}
	}
	st := &p.s.Status
	active := map[string]bool{}
	for _, name := range st.Active {
		active[name] = true
	}
	// A run for a fire after the recorded lastScheduleTime was made and
	// not recorded: it is adopted. Compared with the recorded time, not a
	// running maximum, so the order runs are looked at in does not matter.
	var recorded time.Time
	if st.LastScheduleTime != nil {
		recorded = st.LastScheduleTime.Time
	}
	latest := recorded
	adopt := func(name string, at time.Time) {
		if recorded.IsZero() || at.After(recorded) {
			active[name] = true
			if at.After(latest) {
				latest = at
			}
		}
	}
	// Runs this controller made and has not recorded yet, which the cache
	// may not show yet.
	made := p.r.madeFor(client.ObjectKeyFromObject(p.s), p.s.UID)
	for _, m := range made {
		if _, cached := p.runs[m.name]; cached {
			continue // the loop below sees it
		}
		adopt(m.name, m.at)
		st.LastRunIndex = max(st.LastRunIndex, m.index)
	}
	for _, name := range slices.Sorted(maps.Keys(p.runs)) {
		o := p.runs[name]
		if i, err := strconv.ParseInt(o.run.Annotations[v1alpha1.AnnotationRunIndex], 10, 64); err == nil && i > st.LastRunIndex {
			st.LastRunIndex = i
		}
		adopt(name, o.at)
		if active[name] && o.run.Status.Phase.Terminal() {
			p.count(o.run)
			delete(active, name)
		}
	}
	if latest.After(recorded) {
		st.LastScheduleTime = &metav1.Time{Time: latest.UTC()}
	}
	for name := range active {
		if _, ok := p.runs[name]; ok {
			continue
		}
		if _, ok := made[name]; ok {
			continue // made a moment ago
		}
		// Not in the cache: deleted, or made a moment ago and not seen yet.
		gone, err := p.gone(ctx, name)
		if err != nil {
			return err
		}
		if gone {
			delete(active, name)
		}
	}
	st.Active = slices.Sorted(maps.Keys(active))
	return nil
}

// gone reports whether the run no longer exists.
func (p *pass) gone(ctx context.Context, name string) (bool, error) {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("PipelineRun"))
	err := p.r.APIReader.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: name}, live)
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("getting PipelineRun %s: %w", name, err)
	}
	return !metav1.IsControlledBy(live, p.s), nil
}

// count adds a finished run to the counts.
func (p *pass) count(run *v1alpha1.PipelineRun) {
	st := &p.s.Status
	switch run.Status.Phase {
	case v1alpha1.RunSucceeded:
		st.SucceededRuns++
		st.ConsecutiveFailures = 0
	case v1alpha1.RunFailed:
		st.FailedRuns++
		st.ConsecutiveFailures++
	}
}

// deleteHistory deletes the oldest finished runs beyond the history
// limits. Only counted runs go (those no longer in status.active).
func (p *pass) deleteHistory(ctx context.Context) error {
	keepOK := limit(p.s.Spec.SuccessfulRunsHistoryLimit)
	keepBad := limit(p.s.Spec.FailedRunsHistoryLimit)
	active := map[string]bool{}
	for _, n := range p.s.Status.Active {
		active[n] = true
	}
	finished := make([]ownedRun, 0, len(p.runs))
	for _, o := range p.runs {
		if o.run.Status.Phase.Terminal() && !active[o.run.Name] && o.run.DeletionTimestamp.IsZero() {
			finished = append(finished, o)
		}
	}
	slices.SortFunc(finished, func(a, b ownedRun) int { return b.at.Compare(a.at) }) // newest first
	for _, o := range finished {
		keep := &keepBad
		if o.run.Status.Phase == v1alpha1.RunSucceeded {
			keep = &keepOK
		}
		if *keep > 0 {
			*keep--
			continue
		}
		uid := o.run.UID
		err := p.r.Delete(ctx, o.run, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting old run %s: %w", o.run.Name, err)
		}
		delete(p.runs, o.run.Name)
	}
	return nil
}

func limit(l *int32) int {
	if l == nil {
		return v1alpha1.DefaultRunsHistoryLimit
	}
	return int(*l)
}

// fire makes the runs that are due and returns the next fire time.
func (p *pass) fire(ctx context.Context, trigger *schedule.Trigger) (time.Time, error) {
	spec := p.s.Spec
	d := decide(situation{
		trigger: trigger, cursor: p.cursor(), now: p.now, started: p.r.started, end: timeOf(spec.EndTime),
		policy: orDefault(spec.ConcurrencyPolicy, v1alpha1.DefaultConcurrencyPolicy), maxConcurrency: int(spec.MaxConcurrency),
		active:  len(p.s.Status.Active),
		catchup: orDefault(spec.Catchup, v1alpha1.DefaultCatchupPolicy), maxCatchup: orInt(int(spec.MaxCatchup), v1alpha1.DefaultMaxCatchup),
		deadline: durationOf(spec.StartingDeadline),
	})
	if !d.skipThrough.IsZero() {
		p.skipThrough(d.skipThrough)
		firesTotal.WithLabelValues("missed").Add(float64(d.skipped))
		p.missed(d)
	}
	for _, at := range d.fire {
		if err := p.makeRun(ctx, at); err != nil {
			return time.Time{}, err
		}
	}
	if d.replace && len(d.fire) > 0 {
		if err := p.replace(ctx, d.fire[len(d.fire)-1]); err != nil {
			return time.Time{}, err
		}
	}
	next := trigger.Next(p.now)
	if end := spec.EndTime; next.IsZero() || (end != nil && next.After(end.Time)) {
		return time.Time{}, nil
	}
	return next, nil
}

// missed tells the user about fires that did not run.
func (p *pass) missed(d decision) {
	n := strconv.Itoa(d.skipped)
	if d.skippedMore {
		n = "more than " + n
	}
	if d.skipped == 0 && d.skippedMore {
		n = "older"
	}
	p.r.Recorder.Eventf(p.s, nil, "Normal", v1alpha1.ScheduleReasonMissed, "Skipping",
		"%s fires up to %s did not run (catchup %s, concurrencyPolicy %s)", n, d.skipThrough.UTC().Format(time.RFC3339),
		orDefault(p.s.Spec.Catchup, v1alpha1.DefaultCatchupPolicy), orDefault(p.s.Spec.ConcurrencyPolicy, v1alpha1.DefaultConcurrencyPolicy))
}

// makeRun creates the run of the fire time at. A fire whose run is refused
// for good is missed (and recorded in p.failed); an error that may pass
// is returned, and the fire stays due.
func (p *pass) makeRun(ctx context.Context, at time.Time) error {
	st := &p.s.Status
	run, err := p.newRun(ctx, at, st.LastRunIndex+1)
	if err == nil {
		err = p.r.Create(ctx, run)
	}
	switch {
	case err == nil:
		p.record(run, at)
		p.made = append(p.made, madeRun{name: run.Name, at: at, index: st.LastRunIndex})
		lateness := p.r.Clock.Since(at)
		kind := "catch_up"
		if !at.Before(p.r.started) && (p.lastSeen.IsZero() || at.After(p.lastSeen)) {
			kind = "on_time"
		}
		fireLateness.WithLabelValues(kind).Observe(lateness.Seconds())
		firesTotal.WithLabelValues("created").Inc()
		return nil
	case apierrors.IsAlreadyExists(err):
		return p.adopt(ctx, run.Name, at)
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || isExpandError(err):
		// Refused for good (an admission webhook, a quota): this fire is
		// missed, the next may do better.
		p.fireFailed(at, fmt.Sprintf("the run for %s could not be created: %v", at.UTC().Format(time.RFC3339), err))
		return nil
	default:
		return fmt.Errorf("creating PipelineRun %s: %w", schedule.RunName(p.s.Name, at), err)
	}
}

// fireFailed misses the fire at, and reports the first failure of a pass.
func (p *pass) fireFailed(at time.Time, msg string) {
	p.skipThrough(at)
	firesTotal.WithLabelValues("failed").Inc()
	if p.failed == "" {
		p.failed = msg
		p.r.Recorder.Eventf(p.s, nil, "Warning", v1alpha1.ScheduleReasonFireFailed, "Firing", "%s", msg)
	}
}

// record records a run in the status.
func (p *pass) record(run *v1alpha1.PipelineRun, at time.Time) {
	st := &p.s.Status
	st.Active = append(st.Active, run.Name)
	slices.Sort(st.Active)
	st.Active = slices.Compact(st.Active)
	st.LastScheduleTime = &metav1.Time{Time: at.UTC()}
	if i, err := strconv.ParseInt(run.Annotations[v1alpha1.AnnotationRunIndex], 10, 64); err == nil && i > st.LastRunIndex {
		st.LastRunIndex = i
	}
}

// adopt handles a run name that exists: made by this schedule (another
// controller, or this one before a restart, handled the fire), or not.
func (p *pass) adopt(ctx context.Context, name string, at time.Time) error {
	run := &v1alpha1.PipelineRun{}
	if err := p.r.APIReader.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: name}, run); err != nil {
		return fmt.Errorf("getting PipelineRun %s: %w", name, err)
	}
	if !metav1.IsControlledBy(run, p.s) {
		p.fireFailed(at, fmt.Sprintf("the run for %s cannot be created: a PipelineRun named %s exists and does not belong to this schedule", at.UTC().Format(time.RFC3339), name))
		return nil
	}
	firesTotal.WithLabelValues("adopted").Inc()
	if run.Status.Phase.Terminal() {
		// Made and finished while no controller recorded it.
		p.count(run)
		st := &p.s.Status
		if st.LastScheduleTime == nil || at.After(st.LastScheduleTime.Time) {
			st.LastScheduleTime = &metav1.Time{Time: at.UTC()}
		}
		return nil
	}
	p.record(run, at)
	return nil
}

// newRun is the run of the fire time at, with the index'th [[Index]].
func (p *pass) newRun(ctx context.Context, at time.Time, index int64) (*v1alpha1.PipelineRun, error) {
	t := p.s.Spec.Run
	loc, err := schedule.LoadLocation(p.s.Spec.TimeZone)
	if err != nil {
		return nil, err
	}
	params, err := schedule.ExpandAll(t.Parameters, schedule.Macros{Scheduled: at, Current: p.r.Clock.Now(), Index: index, Location: loc})
	if err != nil {
		return nil, expandError{err}
	}
	version := t.PipelineVersion
	if version == 0 {
		// The latest version at this fire, recorded in the run.
		pl := &v1alpha1.Pipeline{}
		if err := p.r.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: t.Pipeline}, pl); err == nil {
			version = pl.Status.LatestVersion
		}
	}
	labels := map[string]string{}
	maps.Copy(labels, p.s.Labels)
	labels[v1alpha1.LabelSchedule] = p.s.Name
	if t.Experiment != "" {
		labels[v1alpha1.LabelExperiment] = t.Experiment
	}
	run := &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.s.Namespace,
			Name:      schedule.RunName(p.s.Name, at),
			Labels:    labels,
			Annotations: map[string]string{
				v1alpha1.AnnotationScheduledTime: at.UTC().Format(time.RFC3339),
				v1alpha1.AnnotationRunIndex:      strconv.FormatInt(index, 10),
			},
		},
		Spec: v1alpha1.PipelineRunSpec{
			Pipeline: t.Pipeline, PipelineVersion: version, Parameters: params,
			PipelineRoot: t.PipelineRoot, ServiceAccountName: t.ServiceAccountName,
			Parallelism: t.Parallelism, Timeout: t.Timeout, Executor: t.Executor,
			Experiment: t.Experiment,
		},
	}
	if err := controllerutil.SetControllerReference(p.s, run, p.r.Scheme()); err != nil {
		return nil, fmt.Errorf("setting the run's owner: %w", err)
	}
	return run, nil
}

type expandError struct{ error }

func isExpandError(err error) bool {
	var e expandError
	return errors.As(err, &e)
}

// replace cancels the schedule's unfinished runs for fire times before
// at, once at's run exists: a controller that wrongly believed a fire
// due would find its run made and cancel nothing newer than it.
func (p *pass) replace(ctx context.Context, at time.Time) error {
	for _, name := range p.s.Status.Active {
		t, _ := schedule.ScheduledTimeOf(p.s.Name, name)
		if !t.Before(at) {
			continue
		}
		run := &v1alpha1.PipelineRun{}
		if o, ok := p.runs[name]; ok {
			run = o.run.DeepCopy()
		} else if err := p.r.APIReader.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: name}, run); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("getting PipelineRun %s: %w", name, err)
		}
		if run.Spec.Cancel || run.Status.Phase.Terminal() || !metav1.IsControlledBy(run, p.s) {
			continue
		}
		patch := client.MergeFrom(run.DeepCopy())
		run.Spec.Cancel = true
		if err := p.r.Patch(ctx, run, patch); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("cancelling PipelineRun %s: %w", name, err)
		}
		log.FromContext(ctx).Info("replaced run", "run", name, "by", schedule.RunName(p.s.Name, at))
		p.r.Recorder.Eventf(p.s, nil, "Normal", v1alpha1.ScheduleReasonReplaced, "Cancelling", "run %s cancelled: the fire at %s replaces it", name, at.UTC().Format(time.RFC3339))
	}
	return nil
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func durationOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func orDefault[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
