// Package knative is the Knative component: Serving core with the
// net-istio networking layer, and optionally Eventing core, from their
// release YAML built with kustomize and applied server-side.
package knative

import (
	"fmt"
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
)

// Name, DefaultVersion and DefaultNamespace describe the component.
const (
	Name             = "knative"
	DefaultVersion   = "1.21.1"
	DefaultNamespace = "knative-serving"
	// ReleaseRegistry is where Knative publishes its images.
	ReleaseRegistry = "gcr.io/knative-releases"
)

// Options configure the component.
type Options struct {
	// Version of Knative Serving; net-istio and Eventing follow its
	// minor version unless their URLs say otherwise.
	Version string
	// ServingURL, NetIstioURL and EventingURL replace the upstream
	// release files (a mirror, or local paths).
	ServingURL, NetIstioURL, EventingURL string
	// Eventing installs Knative Eventing core too.
	Eventing bool
	// Domain is the domain Knative Services are served under.
	Domain string
	// ImageRegistry replaces gcr.io/knative-releases in every image.
	ImageRegistry   string
	WaitForWebhooks bool
}

// ServingURL is the upstream release file of Serving core.
func ServingURL(version string) string {
	return fmt.Sprintf("https://github.com/knative/serving/releases/download/knative-v%s/serving-core.yaml", version)
}

// NetIstioURL is the upstream release file of net-istio.
func NetIstioURL(version string) string {
	return fmt.Sprintf("https://github.com/knative/net-istio/releases/download/knative-v%s/net-istio.yaml", version)
}

// EventingURL is the upstream release file of Eventing core.
func EventingURL(version string) string {
	return fmt.Sprintf("https://github.com/knative/eventing/releases/download/knative-v%s/eventing-core.yaml", version)
}

// Component returns the Knative component; it installs after Istio, whose
// gateways net-istio programs.
func Component(o Options) (*bootstrap.Component, error) {
	if strings.Count(o.Version, ".") != 2 {
		return nil, fmt.Errorf("version %q is not a Knative release such as 1.21.1", o.Version)
	}
	or := func(v, fallback string) string {
		if v != "" {
			return v
		}
		return fallback
	}
	var images imagerewrite.Rules
	if o.ImageRegistry != "" {
		images.Mirrors = map[string]string{ReleaseRegistry: strings.TrimSuffix(o.ImageRegistry, "/")}
		if err := images.Validate(); err != nil {
			return nil, fmt.Errorf("image_registry: %w", err)
		}
	}
	serving := bootstrap.Manifests{
		Name:   "serving",
		URLs:   []string{or(o.ServingURL, ServingURL(o.Version)), or(o.NetIstioURL, NetIstioURL(o.Version))},
		Images: images,
	}
	// Knative reads the "knative.dev/serving" ingress class and its domain
	// from ConfigMaps; net-istio's class is the default of net-istio.yaml.
	serving.Patches = append(serving.Patches, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-network
  namespace: knative-serving
data:
  ingress-class: istio.ingress.networking.knative.dev
`)
	if o.Domain != "" {
		serving.Patches = append(serving.Patches, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-domain
  namespace: knative-serving
data:
  %s: ""
`, o.Domain))
	}
	c := &bootstrap.Component{
		Name:            Name,
		Version:         o.Version,
		Namespace:       DefaultNamespace,
		DependsOn:       []string{"istio"},
		Manifests:       []bootstrap.Manifests{serving},
		WaitForWebhooks: o.WaitForWebhooks,
	}
	if o.Eventing {
		c.Manifests = append(c.Manifests, bootstrap.Manifests{
			Name: "eventing", URLs: []string{or(o.EventingURL, EventingURL(o.Version))}, Images: images,
		})
	}
	return c, nil
}
