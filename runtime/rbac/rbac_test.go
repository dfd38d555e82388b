package rbac

import (
	"slices"
	"testing"
)

func TestGeneratedRolesParse(t *testing.T) {
	r, err := parsed()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.cluster) == 0 || len(r.namespace) == 0 {
		t.Fatalf("cluster rules %v, namespace rules %v: want both", r.cluster, r.namespace)
	}
	for _, rule := range r.cluster {
		for _, res := range rule.Resources {
			if res == "secrets" || res == "*" || slices.Contains(rule.Verbs, "*") {
				t.Errorf("the controller may %v %v: it must never read secrets or hold wildcards", rule.Verbs, rule.Resources)
			}
		}
	}
}
