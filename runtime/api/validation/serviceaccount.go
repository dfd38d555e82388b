package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// ServiceAccountPath is the field a refused service account is reported
// at.
var ServiceAccountPath = field.NewPath("spec", "serviceAccountName")

// ResolveServiceAccount returns the service account a run in a namespace
// with these annotations runs as (spec.serviceAccountName, or the
// namespace's default), or an error at spec.serviceAccountName when the
// namespace does not allow it (v1alpha1.ServiceAccountPolicy). The
// admission webhook refuses such a run; the controller fails it before
// any task starts.
func ResolveServiceAccount(s v1alpha1.PipelineRunSpec, namespaceAnnotations map[string]string) (string, *field.Error) {
	name, err := v1alpha1.ServiceAccountPolicyOf(namespaceAnnotations).Resolve(s.ServiceAccountName)
	if err != nil {
		return "", field.Forbidden(ServiceAccountPath, err.Error())
	}
	return name, nil
}
