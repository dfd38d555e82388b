package ui

import (
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// profileLabel marks a kubeflow_profile's namespace (provider/profile_objects.go).
const profileLabel = "kfstack.dev/profile"

type namespaceJSON struct {
	Name        string `json:"name"`
	Profile     bool   `json:"profile,omitempty"`
	Runs        int    `json:"runs"`
	Pipelines   int    `json:"pipelines"`
	Experiments int    `json:"experiments"`
}

// listNamespaces lists the namespaces the user may list runs in: the
// profiles' and those that hold runtime objects.
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request, id *Identity) {
	ctx := r.Context()
	counts := map[string]*namespaceJSON{}
	get := func(ns string) *namespaceJSON {
		if counts[ns] == nil {
			counts[ns] = &namespaceJSON{Name: ns}
		}
		return counts[ns]
	}
	nss := &corev1.NamespaceList{}
	if err := s.data.cache.List(ctx, nss, client.HasLabels{profileLabel}, client.UnsafeDisableDeepCopy); err != nil {
		httpError(w, err)
		return
	}
	for _, n := range nss.Items {
		get(n.Name).Profile = true
	}
	runs := &v1alpha1.PipelineRunList{}
	pipelines := &v1alpha1.PipelineList{}
	exps := &v1alpha1.ExperimentList{}
	for _, l := range []client.ObjectList{runs, pipelines, exps} {
		if err := s.data.cache.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			httpError(w, err)
			return
		}
	}
	for _, o := range runs.Items {
		get(o.Namespace).Runs++
	}
	for _, o := range pipelines.Items {
		get(o.Namespace).Pipelines++
	}
	for _, o := range exps.Items {
		get(o.Namespace).Experiments++
	}
	out := []namespaceJSON{}
	for _, name := range sortedKeys(counts) {
		if s.mayQuietly(ctx, id, readRuns(name)) {
			out = append(out, *counts[name])
		}
	}
	slices.SortStableFunc(out, func(a, b namespaceJSON) int {
		if a.Profile != b.Profile {
			if a.Profile {
				return -1
			}
			return 1
		}
		return 0
	})
	writeJSON(w, out)
}
