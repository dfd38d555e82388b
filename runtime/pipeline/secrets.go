package pipeline

import (
	"fmt"
	"strings"
)

// A secret parameter's value never enters the engine's state, a task spec
// or a run's status: the engine carries a reference in its place,
// SecretParameter(name), which the pod executor turns into an environment
// variable from the Kubernetes Secret (secretKeyRef, resolved by the
// kubelet) and the launcher, inside the task pod, into the value.
const (
	secretPrefix = "{{kfstack.secret-parameter:"
	secretSuffix = "}}"
)

// SecretParameter is the value that stands for the secret run parameter
// name until the launcher substitutes it.
func SecretParameter(name string) string {
	return secretPrefix + name + secretSuffix
}

// SecretParameterName reports whether v stands for a secret parameter,
// and which.
func SecretParameterName(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, secretSuffix)
	return name, ok && name != ""
}

// LooksLikeSecretParameter reports whether a plain parameter's text would
// pass for a secret parameter's reference, which plain parameters may not
// (it would name a secret the run never declared).
func LooksLikeSecretParameter(text string) bool {
	return strings.Contains(text, secretPrefix)
}

// HoldsSecret reports whether any value stands for a secret parameter: a
// task with such an input is never cached, since its cache key could not
// tell one secret value from another.
func HoldsSecret(params map[string]any) bool {
	for _, v := range params {
		if _, ok := SecretParameterName(v); ok {
			return true
		}
	}
	return false
}

// CheckSecretParameters reports run parameters that cannot come from a
// Secret: ones the pipeline does not have, and ones that are not strings
// (a Secret's value is text, and a number or a list would need parsing the
// engine cannot do without reading it).
func (p *Plan) CheckSecretParameters(names []string) ErrorList {
	var errs ErrorList
	for _, name := range names {
		field := fmt.Sprintf("parameterSecrets[%q]", name)
		def, ok := p.Root.Inputs.Parameters[name]
		switch {
		case !ok:
			errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf("the pipeline has no parameter %q", name)})
		case def.ParameterType != TypeString:
			errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf("parameter %q is a %s parameter; only STRING parameters can come from a Secret", name, def.ParameterType)})
		}
	}
	return errs
}
