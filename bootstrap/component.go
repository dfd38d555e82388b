// Package bootstrap installs the platform's components (Istio, cert-manager,
// Dex, Knative and the kfstack runtime) into a cluster: Helm charts through
// the Helm SDK and manifests through server-side apply, in dependency order,
// waiting until each is really ready, and reporting drift from what was
// applied. The provider's kubeflow_<component> resources drive it.
package bootstrap

import (
	"context"
	"fmt"
)

// Component is one installable part of the platform. Adding a component is
// one folder below bootstrap/ that builds a Component.
type Component struct {
	// Name identifies the component in logs, errors and dependencies.
	Name string
	// Version is the component's version, as the user chose it.
	Version string
	// Namespace is where the component's releases live.
	Namespace string
	// DependsOn names the components that must be ready first.
	DependsOn []string
	// Releases are Helm releases, installed in order.
	Releases []Release
	// Manifests are release YAML files applied server-side after the
	// releases, in order, into Namespace (which holds their inventory).
	Manifests []Manifests
	// WaitForWebhooks makes readiness include the admission webhooks the
	// component registers: their Services have ready endpoints and their
	// CA bundles are set. Off under KWOK, where no webhook server answers.
	WaitForWebhooks bool
	// SkipRollout makes Install return once the CRDs are Established,
	// without waiting for workloads to become available (an image still
	// being mirrored, nodes still being added); Check still reports
	// whether they are.
	SkipRollout bool
}

// Release is one Helm release of a component.
type Release struct {
	// Name of the release.
	Name string
	// Namespace of the release; the component's when empty.
	Namespace string
	// Chart locates the chart.
	Chart ChartSource
	// Values are the release's values.
	Values map[string]any
}

// ChartSource locates a chart: a repository and name, or a local path.
type ChartSource struct {
	// Repository is an HTTP(S) chart repository URL, or an oci:// registry
	// path; with it, Name and Version select the chart.
	Repository string
	// Name of the chart in Repository.
	Name string
	// Version of the chart; the latest when empty.
	Version string
	// Path is a chart directory or .tgz archive, used instead of
	// Repository.
	Path string
	// Verify checks the chart's provenance (the .prov file its publisher
	// signs beside the archive, as `helm package --sign` writes it) with
	// Keyring before anything is installed: the signature must come from a
	// key in the keyring and the archive must hash to what it signs. A
	// chart without provenance, a directory, or a signature that does not
	// verify fails the install.
	Verify bool
	// Keyring is the OpenPGP public keyring (binary, as `gpg --export`
	// writes it) that Verify checks against; DefaultKeyring when empty.
	Keyring string
}

// String says where the chart comes from, for messages.
func (s ChartSource) String() string {
	if s.Path != "" {
		return s.Path
	}
	if s.Version != "" {
		return fmt.Sprintf("%s/%s@%s", s.Repository, s.Name, s.Version)
	}
	return s.Repository + "/" + s.Name
}

// Status is what an install or a check found.
type Status struct {
	// Releases are the installed releases, in install order.
	Releases []ReleaseStatus
	// Manifests are the applied manifest sets, in apply order.
	Manifests []ManifestStatus
	// Ready is set when every object of every release is ready.
	Ready bool
	// Drift lists the objects whose live state differs from what was
	// applied, as "Kind namespace/name: what".
	Drift []string
}

// ReleaseStatus is one installed release.
type ReleaseStatus struct {
	Name         string
	Namespace    string
	Revision     int
	ChartVersion string
	AppVersion   string
	// Objects is the number of Kubernetes objects the release holds.
	Objects int
}

// ManifestStatus is one applied manifest set.
type ManifestStatus struct {
	Name    string
	Objects int
	// Adopted are the objects that existed before the set first applied
	// them, made by someone else, as "Kind name".
	Adopted []string
}

// Logger receives progress, such as what readiness is waiting for. The
// provider routes it to tflog.
type Logger func(ctx context.Context, msg string, fields map[string]any)
