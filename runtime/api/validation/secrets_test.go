package validation

import (
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func TestValidateParameterSecrets(t *testing.T) {
	ok := v1alpha1.PipelineRunSpec{Pipeline: "p", Parameters: map[string]string{"user": "ada"},
		ParameterSecrets: map[string]v1alpha1.SecretKeyRef{"password": {Name: "db", Key: "password"}}}
	if errs := ValidatePipelineRunSpec(ok); len(errs) > 0 {
		t.Fatalf("valid spec: %v", errs)
	}
	bad := v1alpha1.PipelineRunSpec{Pipeline: "p", Executor: v1alpha1.ExecutorLocal,
		Parameters: map[string]string{"password": "x", "note": "see " + pipeline.SecretParameter("token")},
		ParameterSecrets: map[string]v1alpha1.SecretKeyRef{
			"password": {Name: "db", Key: "password"},
			"token":    {Name: "Bad_Name", Key: "a/b"},
		}}
	got := ValidatePipelineRunSpec(bad).ToAggregate().Error()
	for _, want := range []string{
		`spec.parameters[note]: Invalid value: must not contain {{kfstack.secret-parameter:…}}`,
		`spec.parameterSecrets: Forbidden: the local executor runs tasks inside the controller, which never reads Secrets`,
		`spec.parameterSecrets[password]: Duplicate value`,
		`spec.parameterSecrets[token].name: Invalid value: "Bad_Name"`,
		`spec.parameterSecrets[token].key: Invalid value: "a/b"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if errs := PipelineRunSpecChanges(ok, bad); !strings.Contains(errs.ToAggregate().Error(), "spec.parameterSecrets: Forbidden: is immutable") {
		t.Errorf("changes = %v", errs)
	}
}

func TestResolveServiceAccount(t *testing.T) {
	annotations := map[string]string{v1alpha1.AnnotationDefaultServiceAccount: "runner"}
	if sa, fe := ResolveServiceAccount(v1alpha1.PipelineRunSpec{}, annotations); fe != nil || sa != "runner" {
		t.Errorf("default: %q, %v", sa, fe)
	}
	_, fe := ResolveServiceAccount(v1alpha1.PipelineRunSpec{ServiceAccountName: "admin"}, annotations)
	if fe == nil || !strings.HasPrefix(fe.Error(), `spec.serviceAccountName: Forbidden: service account "admin" is not one`) {
		t.Errorf("refused: %v", fe)
	}
}
