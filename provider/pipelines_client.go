package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// pipelinesScheme knows the runtime's API types, and ConfigMaps, which
// hold the content of pipeline versions.
var pipelinesScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// pipelines returns a typed client for the pipelines.kfstack.dev API,
// sharing the connection's REST mapper (no discovery of its own). The
// runtime's CRDs may have been installed by this apply after the mapper
// cached discovery: a mapper that does not know the API looks again.
func (c *clients) pipelines() (client.Client, error) {
	gk := v1alpha1.GroupVersion.WithKind("PipelineRun").GroupKind()
	if _, err := c.mapper.RESTMapping(gk, v1alpha1.GroupVersion.Version); meta.IsNoMatchError(err) {
		c.mapper.Reset()
	}
	cl, err := client.New(c.rest, client.Options{Scheme: pipelinesScheme, Mapper: c.mapper})
	if err != nil {
		return nil, fmt.Errorf("creating the pipelines client: %w", err)
	}
	return cl, nil
}

// pipelines connects and returns the connection's clients with a client
// for the runtime's API.
func (c *connection) pipelines(ctx context.Context) (*clients, client.Client, error) {
	cs, err := c.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	cl, err := cs.pipelines()
	if err != nil {
		return nil, nil, err
	}
	return cs, cl, nil
}

// errNoRuntime explains a cluster without the runtime's CRDs.
var errNoRuntime = errors.New("the cluster does not serve pipelines.kfstack.dev/v1alpha1: install the runtime (kubeflow_runtime) first")

// explainRuntime turns a missing API into errNoRuntime.
func (c *clients) explainRuntime(err error) error {
	if err != nil && (strings.Contains(err.Error(), "no matches for kind") || strings.Contains(err.Error(), "the server could not find the requested resource")) {
		return fmt.Errorf("%w (%w)", errNoRuntime, err)
	}
	return c.explain(err)
}

// splitImportID parses "namespace/name".
func splitImportID(id string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(id, "/")
	if !ok || ns == "" || n == "" {
		return "", "", fmt.Errorf("the import ID is namespace/name, got %q", id)
	}
	for _, part := range []string{ns, n} {
		if errs := validation.IsDNS1123Subdomain(part); len(errs) > 0 {
			return "", "", fmt.Errorf("%q in import ID %q: %s", part, id, strings.Join(errs, "; "))
		}
	}
	return ns, n, nil
}
