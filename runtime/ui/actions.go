package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	runvalidation "github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// Actions change objects with the UI's own service account, after the API
// server's authoriser said the signed-in user may make the same change
// (create pipelineruns, patch pipelineruns, patch or create experiments).
// Runs the UI starts carry the user's name in AnnotationCreatedBy, and
// every action is logged with the user.

// startRequest is the body of a start.
type startRequest struct {
	Pipeline   string            `json:"pipeline"`
	Version    int32             `json:"version"`
	Experiment string            `json:"experiment"`
	Name       string            `json:"name"`
	Parameters map[string]string `json:"parameters"`
}

// maxBody bounds an action's request body.
const maxBody = 1 << 20

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "the request body is not what this action takes: %v", err)
		return false
	}
	return true
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns := r.PathValue("ns")
	if !s.may(w, r, id, createRuns(ns)) {
		return
	}
	var req startRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx := r.Context()
	if req.Pipeline == "" {
		writeError(w, http.StatusBadRequest, "pipeline: required")
		return
	}
	if req.Name != "" {
		if errs := validation.IsDNS1123Label(req.Name); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "name: %q is not a valid run name: %s", req.Name, strings.Join(errs, "; "))
			return
		}
	}
	p, err := s.data.pipeline(ctx, ns, req.Pipeline)
	if err != nil {
		httpError(w, err)
		return
	}
	version := req.Version
	if version == 0 {
		version = p.Status.LatestVersion
	}
	plan, _, err := s.data.planOf(ctx, p, version)
	if err != nil {
		var nf *errNotFound
		if errors.As(err, &nf) {
			writeError(w, http.StatusBadRequest, "version: %v", err)
		} else {
			writeError(w, http.StatusUnprocessableEntity, "version: %v", err)
		}
		return
	}
	spec := v1alpha1.PipelineRunSpec{Pipeline: req.Pipeline, PipelineVersion: version, Experiment: req.Experiment, Parameters: req.Parameters}
	if spec.Experiment == "" {
		spec.Experiment = v1alpha1.DefaultExperiment
	}
	var problems []string
	for _, fe := range runvalidation.ValidatePipelineRunSpec(spec) {
		problems = append(problems, strings.TrimPrefix(fe.Field, "spec.")+": "+fe.ErrorBody())
	}
	given := map[string]any{}
	for k, v := range req.Parameters {
		given[k] = v
	}
	if _, err := plan.BindParameters(given); err != nil {
		for _, fe := range pipeline.AsErrorList(err) {
			problems = append(problems, fe.Field+": "+fe.Err.Error())
		}
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "%s", strings.Join(problems, "; "))
		return
	}
	exp := &v1alpha1.Experiment{}
	if err := s.data.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: spec.Experiment}, exp); err == nil && exp.Spec.Archived {
		writeError(w, http.StatusConflict, "experiment: %s is archived: unarchive it or choose another", spec.Experiment)
		return
	}
	run := &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: req.Name, Annotations: map[string]string{AnnotationCreatedBy: id.User}},
		Spec:       spec,
	}
	if run.Name == "" {
		run.GenerateName = truncateName(req.Pipeline, 40) + "-" + time.Now().UTC().Format("0102-1504") + "-"
	}
	if err := s.cl.GetClient().Create(ctx, run); err != nil {
		s.opts.Log.Info("starting a run was refused", "user", id.User, "namespace", ns, "pipeline", req.Pipeline, "error", err.Error())
		writeAPIError(w, err)
		return
	}
	s.opts.Log.Info("started a run", "user", id.User, "namespace", ns, "run", run.Name, "pipeline", req.Pipeline, "version", version)
	w.WriteHeader(http.StatusCreated)
	writeBody(w, summarize(run, time.Now()))
}

func truncateName(s string, n int) string {
	if len(s) > n {
		s = strings.TrimRight(s[:n], "-.")
	}
	return s
}

// writeAPIError passes on the API server's answer (403, 409, 422) with its
// message.
func writeAPIError(w http.ResponseWriter, err error) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := int(status.Status().Code)
		if code == 0 {
			code = http.StatusInternalServerError
		}
		writeError(w, code, "%s", status.Status().Message)
		return
	}
	writeError(w, http.StatusInternalServerError, "%v", err)
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("run")
	if !s.may(w, r, id, patchRun(ns, name)) {
		return
	}
	run, err := s.data.run(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return
	}
	if run.Status.Phase.Terminal() {
		writeError(w, http.StatusConflict, "run %s has finished (%s): there is nothing to cancel", name, run.Status.Phase)
		return
	}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`))
	obj := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := s.cl.GetClient().Patch(r.Context(), obj, patch); err != nil {
		writeAPIError(w, err)
		return
	}
	s.opts.Log.Info("cancelled a run", "user", id.User, "namespace", ns, "run", name)
	writeJSON(w, summarize(obj, time.Now()))
}

type archiveRequest struct {
	Archived bool `json:"archived"`
}

// archiveExperiment archives (or restores) an experiment; one that has no
// Experiment object yet (runs name it) gets one.
func (s *Server) archiveExperiment(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("experiment")
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "experiment: %q is not a valid name: %s", name, strings.Join(errs, "; "))
		return
	}
	var req archiveRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ctx := r.Context()
	exp := &v1alpha1.Experiment{}
	err := s.data.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, exp)
	switch {
	case apierrors.IsNotFound(err):
		if !s.may(w, r, id, createExperiments(ns)) {
			return
		}
		exp = &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{AnnotationCreatedBy: id.User}},
			Spec: v1alpha1.ExperimentSpec{Archived: req.Archived}}
		if err := s.cl.GetClient().Create(ctx, exp); err != nil {
			writeAPIError(w, err)
			return
		}
	case err != nil:
		httpError(w, err)
		return
	default:
		if !s.may(w, r, id, patchExperiment(ns, name)) {
			return
		}
		patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"archived":%t}}`, req.Archived))
		obj := &v1alpha1.Experiment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := s.cl.GetClient().Patch(ctx, obj, patch); err != nil {
			writeAPIError(w, err)
			return
		}
		exp = obj
	}
	s.opts.Log.Info("archived an experiment", "user", id.User, "namespace", ns, "experiment", name, "archived", req.Archived)
	writeJSON(w, experimentJSON{Name: name, Description: exp.Spec.Description, Archived: exp.Spec.Archived, Exists: true})
}
