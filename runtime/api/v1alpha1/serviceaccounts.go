package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Namespace annotations that say which service accounts runs in the
// namespace may run as. kubeflow_profile writes them; members cannot
// change them (a namespace is cluster-scoped, and neither the admin nor
// the edit ClusterRole may update one), so the admission webhook and the
// controller both trust them.
const (
	// AnnotationDefaultServiceAccount names the service account of runs
	// that name none: a profile's pipeline runner.
	AnnotationDefaultServiceAccount = "pipelines.kfstack.dev/default-service-account"
	// AnnotationAllowedServiceAccounts lists, comma-separated, the other
	// service accounts of the namespace that runs may name.
	AnnotationAllowedServiceAccounts = "pipelines.kfstack.dev/allowed-service-accounts"
)

// ReasonServiceAccountNotAllowed fails a run whose service account its
// namespace does not allow.
const ReasonServiceAccountNotAllowed = "ServiceAccountNotAllowed"

// DefaultServiceAccount is what a run uses in a namespace that names no
// default service account: the one every pod there gets anyway.
const DefaultServiceAccount = "default"

// ServiceAccountPolicy is which service accounts runs in a namespace may
// run as.
type ServiceAccountPolicy struct {
	// Default is the service account of runs that name none.
	Default string
	// Allowed are the others runs may name.
	Allowed []string
}

// ServiceAccountPolicyOf reads the policy from a namespace's annotations.
func ServiceAccountPolicyOf(annotations map[string]string) ServiceAccountPolicy {
	p := ServiceAccountPolicy{Default: strings.TrimSpace(annotations[AnnotationDefaultServiceAccount])}
	if p.Default == "" {
		p.Default = DefaultServiceAccount
	}
	for _, name := range strings.Split(annotations[AnnotationAllowedServiceAccounts], ",") {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(p.Allowed, name) {
			p.Allowed = append(p.Allowed, name)
		}
	}
	return p
}

// FormatAllowedServiceAccounts is the annotation value that lists names.
func FormatAllowedServiceAccounts(names []string) string {
	return strings.Join(names, ",")
}

// Resolve returns the service account a run that names name (or none)
// runs as, or why it may not.
func (p ServiceAccountPolicy) Resolve(name string) (string, error) {
	if name == "" {
		return p.Default, nil
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return "", fmt.Errorf("%q is not a service account name: %s", name, strings.Join(msgs, "; "))
	}
	if name == p.Default || slices.Contains(p.Allowed, name) {
		return name, nil
	}
	return "", fmt.Errorf("service account %q is not one that runs in this namespace may use (%s); the platform team allows more with kubeflow_profile's run_service_accounts (the namespace annotation %s)",
		name, p.describe(), AnnotationAllowedServiceAccounts)
}

func (p ServiceAccountPolicy) describe() string {
	all := append([]string{p.Default + " (the default)"}, p.Allowed...)
	return strings.Join(all, ", ")
}
