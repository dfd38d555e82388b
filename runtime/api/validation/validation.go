// Package validation holds the checks of pipelines.kfstack.dev objects that
// their CRD schemas cannot express. The controller, its admission webhooks
// and the provider's plan run the same functions, so an object is refused
// the same way whichever client made it; paths are the object's
// (spec.serviceAccountName), and the provider maps them to attributes.
package validation

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// MaxReportedProblems bounds the problems one error lists, so that a
// pipeline with hundreds of broken tasks still gets a readable answer (the
// rest follow once the first are fixed).
const MaxReportedProblems = 20

// CompileContent compiles a pipeline's content: a KFP pipeline spec (spec)
// or a native DAG (dag). The controller compiles every version with it.
func CompileContent(spec, dag string) (*pipeline.Plan, error) {
	if spec != "" {
		return pipeline.Load([]byte(spec))
	}
	return pipeline.LoadNative([]byte(dag))
}

// ValidatePipelineSpec checks that a Pipeline's content compiles. It also
// repeats the schema's own rules (one of spec and dag, maxVersions in
// range), so that it stands alone where it is called directly.
func ValidatePipelineSpec(s v1alpha1.PipelineSpec) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	switch {
	case s.Spec != "" && s.DAG != "":
		errs = append(errs, field.Invalid(spec.Child("dag"), field.OmitValueType{}, "exactly one of spec and dag may be set, and spec.spec is set too"))
	case s.Spec == "" && s.DAG == "":
		errs = append(errs, field.Required(spec.Child("spec"), "exactly one of spec (a KFP pipeline spec) and dag (a native DAG) must be set"))
	default:
		at := spec.Child("spec")
		if s.Spec == "" {
			at = spec.Child("dag")
		}
		if _, err := CompileContent(s.Spec, s.DAG); err != nil {
			errs = append(errs, Problems(at, err)...)
		}
	}
	return append(errs, ValidateMaxVersions(s)...)
}

// ValidateMaxVersions checks spec.maxVersions.
func ValidateMaxVersions(s v1alpha1.PipelineSpec) field.ErrorList {
	if s.MaxVersions < 0 || s.MaxVersions > 100 {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "maxVersions"), s.MaxVersions, "must be between 1 and 100 (0 or unset keeps 10)")}
	}
	return nil
}

// Problems turns a validation error of runtime/pipeline into field errors
// at the content's path, one a problem, each naming its task and field; at
// most MaxReportedProblems and a count of the rest.
func Problems(at *field.Path, err error) field.ErrorList {
	list := pipeline.AsErrorList(err)
	errs := make(field.ErrorList, 0, min(len(list), MaxReportedProblems)+1)
	for i, fe := range list {
		if i == MaxReportedProblems {
			errs = append(errs, field.Invalid(at, field.OmitValueType{}, fmt.Sprintf("and %d more problems", len(list)-i)))
			break
		}
		errs = append(errs, field.Invalid(at, field.OmitValueType{}, fe.Error()))
	}
	return errs
}

// ValidatePipelineRunSpec checks what the CRD schema cannot express about
// a new run: parameter names, executor, parallelism, a positive timeout and
// the service account's name.
func ValidatePipelineRunSpec(s v1alpha1.PipelineRunSpec) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for _, name := range slices.Sorted(maps.Keys(s.Parameters)) {
		if strings.TrimSpace(name) == "" {
			errs = append(errs, field.Invalid(spec.Child("parameters"), name, "a parameter name must not be empty"))
		}
	}
	switch s.Executor {
	case "", v1alpha1.ExecutorPod, v1alpha1.ExecutorLocal:
	default:
		errs = append(errs, field.NotSupported(spec.Child("executor"), s.Executor, []string{string(v1alpha1.ExecutorPod), string(v1alpha1.ExecutorLocal)}))
	}
	if s.Parallelism < 0 {
		errs = append(errs, field.Invalid(spec.Child("parallelism"), s.Parallelism, "must not be negative (0: no cap of the run's own)"))
	}
	if s.Timeout != nil && s.Timeout.Duration <= 0 {
		errs = append(errs, field.Invalid(spec.Child("timeout"), s.Timeout.Duration.String(), "must be positive, such as 1h30m (leave it unset for no timeout)"))
	}
	if s.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.ServiceAccountName) {
			errs = append(errs, field.Invalid(spec.Child("serviceAccountName"), s.ServiceAccountName, msg))
		}
	}
	if s.Experiment != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.Experiment) {
			errs = append(errs, field.Invalid(spec.Child("experiment"), s.Experiment, "must be the name of an Experiment: "+msg))
		}
	}
	return append(errs, ValidateParameterSecrets(s)...)
}

// PipelineRunSpecChanges reports every field but cancel that differs: a
// run executes what it was created with.
func PipelineRunSpecChanges(old, s v1alpha1.PipelineRunSpec) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	immutable := func(name string, changed bool) {
		if changed {
			errs = append(errs, field.Forbidden(spec.Child(name), "is immutable: a run executes what it was created with; create a new run instead (only cancel may change)"))
		}
	}
	immutable("pipeline", old.Pipeline != s.Pipeline)
	immutable("pipelineVersion", old.PipelineVersion != s.PipelineVersion)
	immutable("parameters", !maps.Equal(old.Parameters, s.Parameters))
	immutable("parameterSecrets", !maps.Equal(old.ParameterSecrets, s.ParameterSecrets))
	immutable("executor", executorOrDefault(old.Executor) != executorOrDefault(s.Executor))
	immutable("pipelineRoot", old.PipelineRoot != s.PipelineRoot)
	immutable("serviceAccountName", old.ServiceAccountName != s.ServiceAccountName)
	immutable("parallelism", old.Parallelism != s.Parallelism)
	immutable("timeout", durationOf(old) != durationOf(s))
	immutable("experiment", v1alpha1.ExperimentOrDefault(old.Experiment) != v1alpha1.ExperimentOrDefault(s.Experiment))
	return errs
}

func executorOrDefault(e v1alpha1.Executor) v1alpha1.Executor {
	if e == "" {
		return v1alpha1.ExecutorPod
	}
	return e
}

func durationOf(s v1alpha1.PipelineRunSpec) string {
	if s.Timeout == nil {
		return ""
	}
	return s.Timeout.Duration.String()
}

// RunPolicy is what a runtime allows of runs beyond their schema, from its
// controller's flags. The controller and its admission webhook check runs
// against their own policy; kubeflow_run's plan against the one the
// controller publishes (v1alpha1.AnnotationLocalExecutor on the
// PipelineRun CRD).
type RunPolicy struct {
	// LocalExecutor allows executor local (--allow-local-executor).
	LocalExecutor bool
}

// LocalExecutorForbidden explains why a run with executor local is
// refused by a runtime that does not allow it.
const LocalExecutorForbidden = "the local executor runs task commands inside the controller's process, with the controller's identity, " +
	"and this runtime does not allow it (its controller was not started with --allow-local-executor); use executor \"pod\""

// ValidatePipelineRunPolicy checks a new run against what the runtime
// allows: the local executor only where its controller allows it.
func ValidatePipelineRunPolicy(s v1alpha1.PipelineRunSpec, p RunPolicy) field.ErrorList {
	if s.Executor == v1alpha1.ExecutorLocal && !p.LocalExecutor {
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "executor"), LocalExecutorForbidden)}
	}
	return nil
}

// ParsePipelineRoot checks a pipeline root's form and returns it parsed: a
// file:// URL with an absolute path, or a gs:// or s3:// URL that names a
// bucket, with no path element that is empty, "." or ".." (a root is a
// prefix that everything of a run stays under). The error says what is
// wrong, without the root itself.
func ParsePipelineRoot(root string) (*url.URL, error) {
	u, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("not an absolute file URL, such as file:///var/lib/kfstack/artifacts")
		}
	case "gs", "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("names no bucket, such as %s://my-bucket/pipelines", u.Scheme)
		}
	default:
		return nil, fmt.Errorf("the scheme must be gs://, s3:// or file://")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		for _, part := range strings.Split(p, "/") {
			if part == "" || part == "." || part == ".." {
				return nil, fmt.Errorf("its path must not contain empty, \".\" or \"..\" elements")
			}
		}
	}
	return u, nil
}
