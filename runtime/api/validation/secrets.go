package validation

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// ValidateParameterSecrets checks spec.parameterSecrets on its own and
// against spec.parameters and spec.executor. Whether each one names a
// STRING parameter of the pipeline is checked against its version
// (pipeline.Plan.CheckSecretParameters).
func ValidateParameterSecrets(s v1alpha1.PipelineRunSpec) field.ErrorList {
	var errs field.ErrorList
	at := field.NewPath("spec", "parameterSecrets")
	params := field.NewPath("spec", "parameters")
	for _, name := range slices.Sorted(maps.Keys(s.Parameters)) {
		if pipeline.LooksLikeSecretParameter(s.Parameters[name]) {
			errs = append(errs, field.Invalid(params.Key(name), field.OmitValueType{},
				"must not contain {{kfstack.secret-parameter:…}}, which stands for a value from spec.parameterSecrets"))
		}
	}
	if len(s.ParameterSecrets) == 0 {
		return errs
	}
	if s.Executor == v1alpha1.ExecutorLocal {
		errs = append(errs, field.Forbidden(at, "the local executor runs tasks inside the controller, which never reads Secrets; use the pod executor"))
	}
	for _, name := range slices.Sorted(maps.Keys(s.ParameterSecrets)) {
		ref := s.ParameterSecrets[name]
		if name == "" {
			errs = append(errs, field.Invalid(at, name, "a parameter name must not be empty"))
			continue
		}
		if _, plain := s.Parameters[name]; plain {
			errs = append(errs, field.Duplicate(at.Key(name), "is also in spec.parameters; a parameter takes its value from one of them"))
		}
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(at.Key(name).Child("name"), ref.Name, msg))
		}
		for _, msg := range validation.IsConfigMapKey(ref.Key) {
			errs = append(errs, field.Invalid(at.Key(name).Child("key"), ref.Key, msg))
		}
	}
	return errs
}

// SecretParameterValues are the values the engine binds for the secret
// parameters: references the launcher replaces inside the task pod.
func SecretParameterValues(s v1alpha1.PipelineRunSpec) map[string]any {
	out := make(map[string]any, len(s.ParameterSecrets))
	for name := range s.ParameterSecrets {
		out[name] = pipeline.SecretParameter(name)
	}
	return out
}
