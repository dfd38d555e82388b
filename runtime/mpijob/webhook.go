package mpijob

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// Validator validates MPIJobs at admission with what the CRD's rules
// cannot say (v2beta1.ValidateUpdate): a running job's pod templates do
// not change unless it is suspended first. With the controller off
// (another controller owns MPIJobs) it admits everything, so that the
// webhook never stands in that controller's way.
type Validator struct {
	// Enabled is whether this runtime runs MPIJobs.
	Enabled bool
}

var _ admission.Validator[*kubeflow.MPIJob] = Validator{}

// SetupWebhook serves the MPIJob validator on the manager's webhook
// server.
func SetupWebhook(mgr ctrl.Manager, enabled bool) error {
	return ctrl.NewWebhookManagedBy(mgr, &kubeflow.MPIJob{}).
		WithValidator(Validator{Enabled: enabled}).
		WithValidatorCustomPath(kubeflow.WebhookPath).
		Complete()
}

// ValidateCreate checks a new job as the controller will.
func (v Validator) ValidateCreate(_ context.Context, job *kubeflow.MPIJob) (admission.Warnings, error) {
	if !v.Enabled {
		return nil, nil
	}
	if errs := kubeflow.Validate(job); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kubeflow.SchemeGroupVersionKind.GroupKind(), job.Name, errs)
	}
	return nil, nil
}

// ValidateUpdate refuses changes the controller cannot follow.
func (v Validator) ValidateUpdate(_ context.Context, old, job *kubeflow.MPIJob) (admission.Warnings, error) {
	if !v.Enabled || job.DeletionTimestamp != nil {
		return nil, nil
	}
	if errs := kubeflow.ValidateUpdate(old, job); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kubeflow.SchemeGroupVersionKind.GroupKind(), job.Name, errs)
	}
	return nil, nil
}

// ValidateDelete admits every deletion.
func (Validator) ValidateDelete(context.Context, *kubeflow.MPIJob) (admission.Warnings, error) {
	return nil, nil
}
