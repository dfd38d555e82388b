package launcher

import (
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func TestResolveSecrets(t *testing.T) {
	env := map[string]string{"KFSTACK_SECRET_PARAM_0": "hunter2"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	spec := &TaskSpec{
		Params:    map[string]any{"pw": pipeline.SecretParameter("password"), "user": "ada"},
		SecretEnv: map[string]string{"pw": "KFSTACK_SECRET_PARAM_0"},
	}
	if err := spec.ResolveSecrets(lookup); err != nil {
		t.Fatal(err)
	}
	if spec.Params["pw"] != "hunter2" || spec.Params["user"] != "ada" {
		t.Errorf("params = %v", spec.Params)
	}
	for _, tc := range []struct {
		spec *TaskSpec
		want string
	}{
		{&TaskSpec{Params: map[string]any{"pw": pipeline.SecretParameter("password")}, SecretEnv: map[string]string{"pw": "MISSING"}},
			`input parameter "pw": environment variable MISSING, which holds its value from a Secret, is not set`},
		{&TaskSpec{Params: map[string]any{"pw": pipeline.SecretParameter("token")}},
			`input parameter "pw": secret parameter "token" has no value in this pod`},
		{&TaskSpec{Params: map[string]any{"pw": "plain"}, SecretEnv: map[string]string{"pw": "KFSTACK_SECRET_PARAM_0"}},
			`its value is not a secret parameter`},
	} {
		if err := tc.spec.ResolveSecrets(lookup); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error = %v, want %q", tc.spec, err, tc.want)
		}
	}
}
