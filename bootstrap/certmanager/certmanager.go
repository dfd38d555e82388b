// Package certmanager is the cert-manager component: its Helm chart with
// CRDs enabled and, optionally, a self-signed ClusterIssuer for the
// platform's internal certificates.
package certmanager

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
)

// Name, DefaultVersion and DefaultNamespace describe the component.
const (
	Name             = "cert-manager"
	DefaultVersion   = "v1.21.1"
	DefaultNamespace = "cert-manager"
	// Repository is the upstream chart repository.
	Repository = "https://charts.jetstack.io"
)

// Options configure the component.
type Options struct {
	Version   string
	Namespace string
	Source    bootstrap.Source
	// ImageRegistry replaces quay.io in every image.
	ImageRegistry string
	// Values are merged over the component's defaults.
	Values          map[string]any
	WaitForWebhooks bool
	// ClusterIssuer, when set, names a self-signed ClusterIssuer created
	// once cert-manager is ready (its webhook admits it). An empty name
	// removes the one a previous install created.
	ClusterIssuer string
}

// IssuerSet is the manifest set that holds the ClusterIssuer.
const IssuerSet = "cluster-issuer"

// ClusterIssuer is a self-signed ClusterIssuer: it signs each
// Certificate with the certificate's own key, enough for the platform's
// internal TLS (webhooks, in-cluster services) without a CA to manage.
func ClusterIssuer(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "ClusterIssuer",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "kfstack"},
		},
		"spec": map[string]any{"selfSigned": map[string]any{}},
	}}
}

// Component returns the cert-manager component.
func Component(o Options) *bootstrap.Component {
	values := map[string]any{
		// CRDs are templates of the chart, so Helm upgrades them too;
		// they go with the release on uninstall.
		"crds": map[string]any{"enabled": true, "keep": false},
	}
	if o.ImageRegistry != "" {
		values["imageRegistry"] = o.ImageRegistry
	}
	// The issuer's set is there even without an issuer, so that turning
	// it off deletes the one applied before.
	issuers := bootstrap.Manifests{Name: IssuerSet}
	if o.ClusterIssuer != "" {
		issuers.Objects = append(issuers.Objects, ClusterIssuer(o.ClusterIssuer))
	}
	return &bootstrap.Component{
		Name:      Name,
		Version:   o.Version,
		Namespace: o.Namespace,
		Releases: []bootstrap.Release{{
			Name:   "cert-manager",
			Chart:  o.Source.Chart(Repository, "cert-manager", o.Version),
			Values: bootstrap.MergeValues(values, o.Values),
		}},
		Manifests:       []bootstrap.Manifests{issuers},
		WaitForWebhooks: o.WaitForWebhooks,
	}
}
