// Package certmanager is the cert-manager component: its Helm chart with
// CRDs enabled.
package certmanager

import (
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
	return &bootstrap.Component{
		Name:      Name,
		Version:   o.Version,
		Namespace: o.Namespace,
		Releases: []bootstrap.Release{{
			Name:   "cert-manager",
			Chart:  o.Source.Chart(Repository, "cert-manager", o.Version),
			Values: bootstrap.MergeValues(values, o.Values),
		}},
		WaitForWebhooks: o.WaitForWebhooks,
	}
}
