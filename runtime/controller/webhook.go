package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller/schedules"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// SetupWebhooks registers the validating admission webhooks of Pipeline,
// PipelineRun and Schedule on the manager's webhook server. They run the checks the
// controller runs (and the provider runs at plan time), so bad content is
// refused at admission, with the field that is wrong, instead of being
// reported later in a status condition. opts are the controller's: what it
// allows of runs (the local executor, file:// roots) is refused here too.
func SetupWebhooks(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Pipeline{}).
		WithValidator(PipelineValidator{}).
		WithValidatorCustomPath(v1alpha1.PipelineWebhookPath).
		Complete(); err != nil {
		return fmt.Errorf("setting up the Pipeline webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.PipelineRun{}).
		WithValidator(PipelineRunValidator{Reader: mgr.GetAPIReader(), Options: opts}).
		WithValidatorCustomPath(v1alpha1.PipelineRunWebhookPath).
		Complete(); err != nil {
		return fmt.Errorf("setting up the PipelineRun webhook: %w", err)
	}
	return schedules.SetupWebhook(mgr)
}

// PipelineValidator validates Pipelines at admission: the content compiles
// (validation.CompileContent, as the controller compiles each version).
type PipelineValidator struct{}

var _ admission.Validator[*v1alpha1.Pipeline] = PipelineValidator{}

// ValidateCreate checks a new pipeline's content.
func (PipelineValidator) ValidateCreate(_ context.Context, p *v1alpha1.Pipeline) (admission.Warnings, error) {
	return nil, invalid(pipelineGK, p.Name, validation.ValidatePipelineSpec(p.Spec))
}

// ValidateUpdate checks what changed only: an object whose content was
// accepted before (or predates the webhook) can still be labelled,
// annotated, have its finalizers removed or its maxVersions changed.
func (PipelineValidator) ValidateUpdate(_ context.Context, old, p *v1alpha1.Pipeline) (admission.Warnings, error) {
	if !p.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	var errs field.ErrorList
	switch {
	case old.Spec.ContentHash() != p.Spec.ContentHash():
		errs = validation.ValidatePipelineSpec(p.Spec)
	case old.Spec.MaxVersions != p.Spec.MaxVersions:
		errs = validation.ValidateMaxVersions(p.Spec)
	}
	var warnings admission.Warnings
	keep := p.Spec.MaxVersions
	if keep <= 0 {
		keep = v1alpha1.DefaultMaxVersions
	}
	if n := int32(len(p.Status.Versions)); len(errs) == 0 && keep < n && p.Spec.MaxVersions != old.Spec.MaxVersions {
		dropped := make([]string, 0, n-keep)
		for _, v := range p.Status.Versions[:n-keep] {
			dropped = append(dropped, fmt.Sprint(v.Number))
		}
		warnings = append(warnings, fmt.Sprintf("spec.maxVersions: %d drops version(s) %s; runs of them that have not finished keep running on them", keep, strings.Join(dropped, ", ")))
	}
	return warnings, invalid(pipelineGK, p.Name, errs)
}

// ValidateDelete allows every deletion.
func (PipelineValidator) ValidateDelete(context.Context, *v1alpha1.Pipeline) (admission.Warnings, error) {
	return nil, nil
}

var (
	pipelineGK    = v1alpha1.GroupVersion.WithKind("Pipeline").GroupKind()
	pipelineRunGK = v1alpha1.GroupVersion.WithKind("PipelineRun").GroupKind()
)

// invalid is the Invalid status error of errs, nil when there are none;
// the API server shows it as "<Kind> "<name>" is invalid: <path>: …".
func invalid(gk schema.GroupKind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(gk, name, errs)
}

// PipelineRunValidator validates PipelineRuns at admission: what the CRD
// schema cannot express when a run is created, and that nothing but
// cancel changes afterwards.
type PipelineRunValidator struct {
	// Reader reads the run's Pipeline, to check parameters against a
	// pinned version and to warn about what the run will wait for; nil
	// skips those checks. SetupWebhooks gives it the manager's API
	// reader: a version added or pruned a moment ago counts, which a
	// cache might not show yet.
	Reader client.Reader
	// Options are the controller's, whose policy a run must meet: the
	// local executor only when allowed, a file:// root of its own only
	// under an allowed directory, a root at all when there is no default.
	Options Options
}

var _ admission.Validator[*v1alpha1.PipelineRun] = PipelineRunValidator{}

// ValidateCreate checks a new run's settings and, when its version is
// kept, its parameters.
func (v PipelineRunValidator) ValidateCreate(ctx context.Context, run *v1alpha1.PipelineRun) (admission.Warnings, error) {
	errs := validation.ValidatePipelineRunSpec(run.Spec)
	errs = append(errs, validation.ValidatePipelineRunPolicy(run.Spec, v.Options.runPolicy())...)
	errs = append(errs, v.checkRoot(run.Spec)...)
	var warnings admission.Warnings
	if len(errs) == 0 && v.Reader != nil {
		if err := v.checkServiceAccount(ctx, run); err != nil {
			var fe *field.Error
			if !errors.As(err, &fe) {
				// Fail closed: a run whose service account cannot be
				// checked is not admitted.
				return nil, err
			}
			errs = append(errs, fe)
		}
		var more field.ErrorList
		warnings, more = v.checkPipeline(ctx, run)
		errs = append(errs, more...)
		expWarnings, expErrs := v.checkExperiment(ctx, run)
		warnings, errs = append(warnings, expWarnings...), append(errs, expErrs...)
	}
	return warnings, invalid(pipelineRunGK, run.Name, errs)
}

// checkServiceAccount refuses a service account the run's namespace does
// not allow (the controller fails such a run too, should it get past
// admission with the webhook off).
func (v PipelineRunValidator) checkServiceAccount(ctx context.Context, run *v1alpha1.PipelineRun) error {
	ns := &corev1.Namespace{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: run.Namespace}, ns); err != nil {
		return fmt.Errorf("reading namespace %s to check spec.serviceAccountName: %w", run.Namespace, err)
	}
	if _, fe := validation.ResolveServiceAccount(run.Spec, ns.Annotations); fe != nil {
		return fe
	}
	return nil
}

// ValidateUpdate refuses changes to anything but cancel: a run executes
// what it was created with.
func (PipelineRunValidator) ValidateUpdate(_ context.Context, old, run *v1alpha1.PipelineRun) (admission.Warnings, error) {
	var warnings admission.Warnings
	if old.Spec.Cancel && !run.Spec.Cancel {
		warnings = append(warnings, "spec.cancel: a cancelled run stays cancelled; setting cancel to false has no effect")
	}
	return warnings, invalid(pipelineRunGK, run.Name, validation.PipelineRunSpecChanges(old.Spec, run.Spec))
}

// ValidateDelete allows every deletion.
func (PipelineRunValidator) ValidateDelete(context.Context, *v1alpha1.PipelineRun) (admission.Warnings, error) {
	return nil, nil
}

// checkPipeline checks the run against its pipeline as far as it is known
// now, as the controller resolves it (resolve, BindParameters). A pinned
// version is immutable, so a version no longer kept and parameters it
// does not take are refused; the latest version may still change before
// the run starts, so against it they are only warned about, as is a
// pipeline or version that does not exist yet (the run waits for it).
func (v PipelineRunValidator) checkPipeline(ctx context.Context, run *v1alpha1.PipelineRun) (admission.Warnings, field.ErrorList) {
	p := &v1alpha1.Pipeline{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.Pipeline}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return admission.Warnings{fmt.Sprintf("spec.pipeline: pipeline %q does not exist yet; the run waits for it", run.Spec.Pipeline)}, nil
		}
		return admission.Warnings{fmt.Sprintf("spec.pipeline: pipeline %q was not checked: %v", run.Spec.Pipeline, err)}, nil
	}
	number := run.Spec.PipelineVersion
	if number == 0 {
		number = p.Status.LatestVersion
	}
	version := p.Status.Version(number)
	switch {
	case number == 0:
		return admission.Warnings{fmt.Sprintf("spec.pipeline: pipeline %q has no valid version yet; the run waits for one", p.Name)}, nil
	case version == nil && run.Spec.PipelineVersion > p.Status.LatestVersion:
		return admission.Warnings{fmt.Sprintf("spec.pipelineVersion: pipeline %q has no version %d yet (latest: %d); the run waits for it", p.Name, number, p.Status.LatestVersion)}, nil
	case version == nil && run.Spec.PipelineVersion != 0:
		kept := make([]string, 0, len(p.Status.Versions))
		for _, kv := range p.Status.Versions {
			kept = append(kept, fmt.Sprint(kv.Number))
		}
		return nil, field.ErrorList{field.Invalid(field.NewPath("spec", "pipelineVersion"), number,
			fmt.Sprintf("pipeline %q does not keep this version (kept: %s)", p.Name, orNone(kept)))}
	case version == nil:
		return nil, nil
	}
	content := p.Spec
	if content.ContentHash() != version.ContentHash {
		var err error
		if content, err = versions.Read(ctx, v.Reader, p.Namespace, version.ConfigMap, version.ContentHash); err != nil {
			return admission.Warnings{fmt.Sprintf("spec.parameters: not checked against version %d of pipeline %q: %v", number, p.Name, err)}, nil
		}
	}
	plan, err := validation.CompileContent(content.Spec, content.DAG)
	if err != nil {
		return nil, nil // the controller reports it on the run
	}
	given := validation.SecretParameterValues(run.Spec)
	for k, val := range run.Spec.Parameters {
		given[k] = val
	}
	var problems pipeline.ErrorList
	if _, err := plan.BindParameters(given); err != nil {
		problems = pipeline.AsErrorList(err)
	}
	problems = append(problems, plan.CheckSecretParameters(slices.Sorted(maps.Keys(run.Spec.ParameterSecrets)))...)
	if len(problems) > 0 {
		params := field.NewPath("spec", "parameters")
		var errs field.ErrorList
		var warnings admission.Warnings
		for _, fe := range problems {
			msg := fmt.Sprintf("%s (version %d of pipeline %q)", fe.Err, number, p.Name)
			at := params
			if name, ok := parameterName(fe.Field, "parameters["); ok {
				at = params.Key(name)
			} else if name, ok := parameterName(fe.Field, "parameterSecrets["); ok {
				at = field.NewPath("spec", "parameterSecrets").Key(name)
			}
			if run.Spec.PipelineVersion == 0 {
				warnings = append(warnings, at.String()+": "+msg+"; the latest version may change before the run starts")
				continue
			}
			errs = append(errs, field.Invalid(at, field.OmitValueType{}, msg))
		}
		return warnings, errs
	}
	return nil, nil
}

// parameterName extracts the name from a field `parameters["name"]` of a
// BindParameters error (prefix `parameters[`), or `parameterSecrets["name"]`
// of a CheckSecretParameters one.
func parameterName(f, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(f, prefix)
	if !ok {
		return "", false
	}
	quoted, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(quoted)
	return name, err == nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkRoot refuses a run's pipeline root that the controller would not
// open for it, or no root when the controller has no default.
func (v PipelineRunValidator) checkRoot(s v1alpha1.PipelineRunSpec) field.ErrorList {
	at := field.NewPath("spec", "pipelineRoot")
	if s.PipelineRoot == "" {
		if v.Options.PipelineRoot == "" {
			return field.ErrorList{field.Required(at, "the controller has no default pipeline root (--pipeline-root): the run must name one")}
		}
		return nil
	}
	if err := v.Options.CheckPipelineRoot(s.PipelineRoot); err != nil {
		return field.ErrorList{field.Invalid(at, s.PipelineRoot, err.Error())}
	}
	return nil
}
