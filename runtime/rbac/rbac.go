// Package rbac holds the runtime controller's permissions as controller-gen
// generates them (role.yaml) from the +kubebuilder:rbac markers of
// runtime/controller (rbac.go there): the one source that the installer
// (bootstrap/runtime) and the tests (internal/runtimetest) both use, so
// the markers and the installed roles cannot disagree.
package rbac

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

//go:embed role.yaml
var roleYAML []byte

// GeneratedName is the name controller-gen gives the ClusterRole and the
// Role; installers name their copies after the namespace they install in.
const GeneratedName = "kfstack-runtime-controller"

type roles struct {
	cluster, namespace []rbacv1.PolicyRule
}

var parsed = sync.OnceValues(func() (roles, error) {
	var out roles
	for _, doc := range bytes.Split(roleYAML, []byte("\n---\n")) {
		doc = bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---"))
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return out, fmt.Errorf("role.yaml: %w", err)
		}
		switch head.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				return out, fmt.Errorf("role.yaml: ClusterRole: %w", err)
			}
			out.cluster = append(out.cluster, r.Rules...)
		case "Role":
			var r rbacv1.Role
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				return out, fmt.Errorf("role.yaml: Role: %w", err)
			}
			out.namespace = append(out.namespace, r.Rules...)
		default:
			return out, fmt.Errorf("role.yaml: unexpected kind %q", head.Kind)
		}
	}
	if len(out.cluster) == 0 {
		return out, fmt.Errorf("role.yaml holds no ClusterRole")
	}
	return out, nil
})

// ClusterRules are the controller's permissions in every namespace.
func ClusterRules() []rbacv1.PolicyRule {
	return mustParse().cluster
}

// NamespaceRules are the controller's permissions in its own namespace:
// leader election's Lease and events.
func NamespaceRules() []rbacv1.PolicyRule {
	return mustParse().namespace
}

// mustParse panics when the embedded file, which is generated and checked
// by this package's test, does not parse: that is a build defect, as a
// template that does not compile.
func mustParse() roles {
	r, err := parsed()
	if err != nil {
		panic(err)
	}
	return r
}
