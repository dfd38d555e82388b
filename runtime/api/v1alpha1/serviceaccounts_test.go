package v1alpha1

import (
	"strings"
	"testing"
)

func TestServiceAccountPolicy(t *testing.T) {
	profile := ServiceAccountPolicyOf(map[string]string{
		AnnotationDefaultServiceAccount:  "pipeline-runner",
		AnnotationAllowedServiceAccounts: " trainer, ,exporter,trainer",
	})
	plain := ServiceAccountPolicyOf(nil)
	for _, tc := range []struct {
		policy ServiceAccountPolicy
		name   string
		want   string // the resolved name, or part of the error
		ok     bool
	}{
		{profile, "", "pipeline-runner", true},
		{profile, "pipeline-runner", "pipeline-runner", true},
		{profile, "trainer", "trainer", true},
		{profile, "exporter", "exporter", true},
		{profile, "default", `service account "default" is not one that runs in this namespace may use (pipeline-runner (the default), trainer, exporter)`, false},
		{profile, "Bad_Name", "is not a service account name", false},
		{plain, "", "default", true},
		{plain, "default", "default", true},
		{plain, "kfstack-runtime-controller", `service account "kfstack-runtime-controller" is not one`, false},
	} {
		got, err := tc.policy.Resolve(tc.name)
		switch {
		case tc.ok && (err != nil || got != tc.want):
			t.Errorf("%+v.Resolve(%q) = %q, %v; want %q", tc.policy, tc.name, got, err, tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v.Resolve(%q) = %q, %v; want an error saying %q", tc.policy, tc.name, got, err, tc.want)
		}
	}
}
