package pipeline

import (
	"strings"
	"testing"
)

func TestSecretParameterReferences(t *testing.T) {
	ref := SecretParameter("db-password")
	if name, ok := SecretParameterName(ref); !ok || name != "db-password" {
		t.Errorf("SecretParameterName(%q) = %q, %v", ref, name, ok)
	}
	for _, v := range []any{"db-password", "{{kfstack.secret-parameter:}}", 3, nil, "x" + ref} {
		if _, ok := SecretParameterName(v); ok {
			t.Errorf("%v taken for a reference", v)
		}
	}
	if !HoldsSecret(map[string]any{"a": 1, "b": ref}) || HoldsSecret(map[string]any{"a": "x"}) {
		t.Error("HoldsSecret")
	}
	if !LooksLikeSecretParameter("see "+ref) || LooksLikeSecretParameter("{{$.inputs.parameters['x']}}") {
		t.Error("LooksLikeSecretParameter")
	}
	plan, err := LoadNative([]byte(`name: p
parameters:
  token: {type: string}
  n: {type: int, default: 1}
tasks:
- {name: a, image: x, command: [x, "{{$.inputs.parameters['t']}}"], inputs: {parameters: {t: {parameter: token}}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := plan.CheckSecretParameters([]string{"token"}); len(errs) > 0 {
		t.Errorf("token: %v", errs)
	}
	got := plan.CheckSecretParameters([]string{"n", "nosuch"}).Error()
	for _, want := range []string{`parameterSecrets["n"]: parameter "n" is a NUMBER_INTEGER parameter; only STRING parameters`, `parameterSecrets["nosuch"]: the pipeline has no parameter "nosuch"`} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q: %s", want, got)
		}
	}
}
