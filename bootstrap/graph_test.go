package bootstrap

import (
	"strings"
	"testing"
)

func names(cs []*Component) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestInstallOrder(t *testing.T) {
	c := func(name string, deps ...string) *Component { return &Component{Name: name, DependsOn: deps} }
	order, err := installOrder([]*Component{
		c("runtime", "cert-manager"), c("dex", "istio"), c("knative", "istio"), c("istio"), c("cert-manager"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(order), "cert-manager,runtime,istio,dex,knative"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	// A dependency outside the set is taken as met.
	if order, err := installOrder([]*Component{c("dex", "istio")}); err != nil || names(order) != "dex" {
		t.Errorf("order = %s, %v", names(order), err)
	}
	if _, err := installOrder([]*Component{c("a", "b"), c("b", "c"), c("c", "a")}); err == nil || !strings.Contains(err.Error(), "a -> b -> c -> a") {
		t.Errorf("cycle error = %v", err)
	}
	if _, err := installOrder([]*Component{c("a"), c("a")}); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate error = %v", err)
	}
}
