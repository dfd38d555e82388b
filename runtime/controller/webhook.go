package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// SetupWebhooks registers the validating admission webhooks of Pipeline and
// PipelineRun on the manager's webhook server. They run the checks the
// controller runs (and the provider runs at plan time), so bad content is
// refused at admission, with the field that is wrong, instead of being
// reported later in a status condition.
func SetupWebhooks(mgr ctrl.Manager) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Pipeline{}).
		WithValidator(PipelineValidator{}).
		WithValidatorCustomPath(v1alpha1.PipelineWebhookPath).
		Complete(); err != nil {
		return fmt.Errorf("setting up the Pipeline webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.PipelineRun{}).
		WithValidator(PipelineRunValidator{Reader: mgr.GetAPIReader()}).
		WithValidatorCustomPath(v1alpha1.PipelineRunWebhookPath).
		Complete(); err != nil {
		return fmt.Errorf("setting up the PipelineRun webhook: %w", err)
	}
	return nil
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
}

var _ admission.Validator[*v1alpha1.PipelineRun] = PipelineRunValidator{}

// ValidateCreate checks a new run's settings and, when its version is
// kept, its parameters.
func (v PipelineRunValidator) ValidateCreate(ctx context.Context, run *v1alpha1.PipelineRun) (admission.Warnings, error) {
	errs := validation.ValidatePipelineRunSpec(run.Spec)
	var warnings admission.Warnings
	if len(errs) == 0 && v.Reader != nil {
		var more field.ErrorList
		warnings, more = v.checkPipeline(ctx, run)
		errs = append(errs, more...)
	}
	return warnings, invalid(pipelineRunGK, run.Name, errs)
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
	given := make(map[string]any, len(run.Spec.Parameters))
	for k, val := range run.Spec.Parameters {
		given[k] = val
	}
	if _, err := plan.BindParameters(given); err != nil {
		params := field.NewPath("spec", "parameters")
		var errs field.ErrorList
		var warnings admission.Warnings
		for _, fe := range pipeline.AsErrorList(err) {
			msg := fmt.Sprintf("%s (version %d of pipeline %q)", fe.Err, number, p.Name)
			at := params
			if name, ok := parameterName(fe.Field); ok {
				at = params.Key(name)
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
// BindParameters error.
func parameterName(f string) (string, bool) {
	rest, ok := strings.CutPrefix(f, "parameters[")
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
