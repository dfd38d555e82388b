// Package istio is the Istio component: the base chart (CRDs), istiod and
// an ingress gateway, installed in that order.
package istio

import (
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
)

// Name, DefaultVersion and DefaultNamespace describe the component.
const (
	Name             = "istio"
	DefaultVersion   = "1.29.6"
	DefaultNamespace = "istio-system"
	// Repository is the upstream chart repository.
	Repository = "https://istio-release.storage.googleapis.com/charts"
	// DefaultHub is where Istio's images are published.
	DefaultHub = "docker.io/istio"
)

// Options configure the component.
type Options struct {
	Version   string
	Namespace string
	Source    bootstrap.Source
	// ImageRegistry replaces docker.io/istio as the images' hub.
	ImageRegistry string
	// Gateway installs the istio-ingressgateway.
	Gateway bool
	// GKE turns on what GKE needs, such as the CNI's binary directory.
	GKE bool
	// Values are merged over every chart's defaults.
	Values          map[string]any
	WaitForWebhooks bool
}

// Component returns the Istio component.
func Component(o Options) *bootstrap.Component {
	hub := DefaultHub
	if o.ImageRegistry != "" {
		hub = strings.TrimSuffix(o.ImageRegistry, "/")
	}
	global := map[string]any{"hub": hub, "tag": strings.TrimPrefix(o.Version, "v"), "istioNamespace": o.Namespace}
	if o.GKE {
		global["platform"] = "gke"
	}
	values := func(extra map[string]any) map[string]any {
		return bootstrap.MergeValues(bootstrap.MergeValues(map[string]any{"global": global}, extra), o.Values)
	}
	c := &bootstrap.Component{
		Name:      Name,
		Version:   o.Version,
		Namespace: o.Namespace,
		Releases: []bootstrap.Release{
			{Name: "istio-base", Chart: o.Source.Chart(Repository, "base", o.Version), Values: values(map[string]any{"defaultRevision": "default"})},
			{Name: "istiod", Chart: o.Source.Chart(Repository, "istiod", o.Version), Values: values(nil)},
		},
		WaitForWebhooks: o.WaitForWebhooks,
	}
	if o.Gateway {
		c.Releases = append(c.Releases, bootstrap.Release{
			Name: "istio-ingressgateway", Chart: o.Source.Chart(Repository, "gateway", o.Version), Values: values(nil),
		})
	}
	return c
}
