package controller

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsOptions say how the controller serves its Prometheus metrics.
type MetricsOptions struct {
	// BindAddress is where to listen ("0" disables the endpoint).
	BindAddress string
	// Secure serves HTTPS to callers the API server authenticates
	// (TokenReview) and authorises for GET on the non-resource URL
	// /metrics (SubjectAccessReview), as kubebuilder's default project
	// does; the controller's service account needs create on tokenreviews
	// and subjectaccessreviews, a scraper a role such as
	// kfstack-runtime-metrics-reader. False serves plain HTTP to anyone.
	Secure bool
	// CertDir holds tls.crt and tls.key (reloaded when they change); empty
	// or without them, a self-signed certificate made at start.
	CertDir string
}

// ServerOptions are the manager's metrics server options. HTTP/2 is off:
// the endpoint gains nothing from it, and it keeps the server out of
// HTTP/2's stream-reset and rapid-reset attacks (CVE-2023-44487).
func (m MetricsOptions) ServerOptions() metricsserver.Options {
	o := metricsserver.Options{BindAddress: m.BindAddress}
	if !m.Secure {
		return o
	}
	o.SecureServing = true
	o.FilterProvider = filters.WithAuthenticationAndAuthorization
	o.CertDir = m.CertDir
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	return o
}
