package schedules

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
)

// SetupWebhook registers the Schedule validating webhook on the manager's
// webhook server, at v1alpha1.ScheduleWebhookPath.
func SetupWebhook(mgr ctrl.Manager) error {
	err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Schedule{}).
		WithValidator(Validator{Reader: mgr.GetAPIReader(), Client: mgr.GetClient()}).
		WithValidatorCustomPath(v1alpha1.ScheduleWebhookPath).
		Complete()
	if err != nil {
		return fmt.Errorf("setting up the Schedule webhook: %w", err)
	}
	return nil
}

// Validator validates Schedules at admission with validation.ValidateSchedule,
// the check the controller runs before each fire and kubeflow_schedule
// runs at plan time. The controller makes a schedule's runs with its own
// identity, so the validator also makes sure that whoever sets what a
// schedule runs may create those runs themselves.
type Validator struct {
	// Reader reads the schedule's Pipeline, uncached (a pipeline made a
	// moment ago counts).
	Reader client.Reader
	// Client creates SubjectAccessReviews; nil skips the check.
	Client client.Client
}

var _ admission.Validator[*v1alpha1.Schedule] = Validator{}

var scheduleGK = v1alpha1.GroupVersion.WithKind("Schedule").GroupKind()

// ValidateCreate checks a new schedule.
func (v Validator) ValidateCreate(ctx context.Context, s *v1alpha1.Schedule) (admission.Warnings, error) {
	warnings, errs := v.check(ctx, s, true)
	errs = append(errs, v.authorize(ctx, s)...)
	return warnings, invalid(s.Name, errs)
}

// ValidateUpdate checks a changed spec; metadata and status changes, and
// objects being deleted, always pass. The run template is checked against
// the pipeline only when it changed, so a schedule whose pipeline went
// away can still be suspended.
func (v Validator) ValidateUpdate(ctx context.Context, old, s *v1alpha1.Schedule) (admission.Warnings, error) {
	if !s.DeletionTimestamp.IsZero() || equality.Semantic.DeepEqual(old.Spec, s.Spec) {
		return nil, nil
	}
	warnings, errs := v.check(ctx, s, !equality.Semantic.DeepEqual(old.Spec.Run, s.Spec.Run))
	errs = append(errs, v.authorize(ctx, s)...)
	return warnings, invalid(s.Name, errs)
}

// ValidateDelete allows every deletion.
func (Validator) ValidateDelete(context.Context, *v1alpha1.Schedule) (admission.Warnings, error) {
	return nil, nil
}

func (v Validator) check(ctx context.Context, s *v1alpha1.Schedule, withPipeline bool) (admission.Warnings, field.ErrorList) {
	var lookup validation.PipelineLookup
	if withPipeline && v.Reader != nil {
		lookup = func(name string) (*v1alpha1.Pipeline, error) {
			p := &v1alpha1.Pipeline{}
			err := v.Reader.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, p)
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return p, err
		}
	}
	var content validation.VersionContent
	if v.Reader != nil {
		content = versions.Reader(ctx, v.Reader)
	}
	errs, err := validation.ValidateSchedule(s.Name, s.Spec, lookup, content)
	if err != nil {
		return admission.Warnings{fmt.Sprintf("spec.run.pipeline: pipeline %q was not checked: %v", s.Spec.Run.Pipeline, err)}, errs
	}
	return nil, errs
}

// authorize refuses a schedule whose author may not create PipelineRuns in
// its namespace: the runs would be created for them by the controller.
func (v Validator) authorize(ctx context.Context, s *v1alpha1.Schedule) field.ErrorList {
	if v.Client == nil {
		return nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil // called directly, not through admission
	}
	u := req.UserInfo
	extra := map[string]authorizationv1.ExtraValue{}
	for k, vals := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(vals)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: s.Namespace, Verb: "create", Group: v1alpha1.GroupVersion.Group, Resource: "pipelineruns",
		},
	}}
	at := field.NewPath("spec", "run")
	if err := v.Client.Create(ctx, sar); err != nil {
		return field.ErrorList{field.InternalError(at, fmt.Errorf("checking that %s may create PipelineRuns: %w", u.Username, err))}
	}
	if !sar.Status.Allowed {
		return field.ErrorList{field.Forbidden(at, fmt.Sprintf("%s may not create PipelineRuns in namespace %s, and a schedule runs only what its author could run", u.Username, s.Namespace))}
	}
	return nil
}

func invalid(name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(scheduleGK, name, errs)
}
