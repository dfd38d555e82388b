package ui

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// runSummary is a run as the run list shows it.
type runSummary struct {
	Name       string                `json:"name"`
	Namespace  string                `json:"namespace"`
	Pipeline   string                `json:"pipeline"`
	Version    int32                 `json:"version,omitempty"`
	Experiment string                `json:"experiment"`
	Phase      string                `json:"phase"`
	Message    string                `json:"message,omitempty"`
	Created    time.Time             `json:"created"`
	Started    *time.Time            `json:"started,omitempty"`
	Finished   *time.Time            `json:"finished,omitempty"`
	DurationMS int64                 `json:"durationMs,omitempty"`
	Tasks      map[string]int32      `json:"tasks,omitempty"`
	Cached     int32                 `json:"cached,omitempty"`
	Executor   string                `json:"executor,omitempty"`
	Parameters map[string]string     `json:"parameters,omitempty"`
	Outputs    map[string]string     `json:"outputs,omitempty"`
	Failure    *v1alpha1.TaskFailure `json:"failure,omitempty"`
	Cancelling bool                  `json:"cancelling,omitempty"`
	CreatedBy  string                `json:"createdBy,omitempty"`
}

// AnnotationCreatedBy names the user who started a run from the UI (the
// UI's own service account creates it).
const AnnotationCreatedBy = "pipelines.kfstack.dev/created-by"

func summarize(run *v1alpha1.PipelineRun, now time.Time) runSummary {
	st := run.Status
	s := runSummary{
		Name: run.Name, Namespace: run.Namespace, Pipeline: run.Spec.Pipeline, Version: st.PipelineVersion,
		Experiment: v1alpha1.ExperimentOf(run), Phase: string(st.Phase), Message: st.Message,
		Created: run.CreationTimestamp.UTC(), Tasks: st.Tasks, Cached: st.CachedTasks, Executor: string(run.Spec.Executor),
		Parameters: run.Spec.Parameters, Outputs: st.Outputs, Failure: st.Failure,
		Cancelling: run.Spec.Cancel && !st.Phase.Terminal(), CreatedBy: run.Annotations[AnnotationCreatedBy],
	}
	if s.Phase == "" {
		s.Phase = string(v1alpha1.RunPending)
	}
	if st.StartTime != nil {
		t := st.StartTime.UTC()
		s.Started = &t
		end := now
		if st.CompletionTime != nil {
			f := st.CompletionTime.UTC()
			s.Finished, end = &f, f
		}
		s.DurationMS = end.Sub(t).Milliseconds()
	}
	return s
}

// runQuery is a parsed run list query.
type runQuery struct {
	experiment, pipeline, text string
	phases                     map[string]bool
	archived                   bool
	sortKey                    string
	desc                       bool
	limit, offset              int
}

var runSortKeys = []string{"created", "started", "duration", "name", "phase", "pipeline", "experiment"}

var runPhases = []string{string(v1alpha1.RunPending), string(v1alpha1.RunRunning), string(v1alpha1.RunSucceeded), string(v1alpha1.RunFailed), string(v1alpha1.RunCancelled)}

// parseRunQuery reads the list's filters; a malformed one is an error that
// names the parameter.
func parseRunQuery(r *http.Request) (*runQuery, error) {
	v := r.URL.Query()
	q := &runQuery{experiment: v.Get("experiment"), pipeline: v.Get("pipeline"), text: strings.ToLower(v.Get("q")), sortKey: "created", desc: true, limit: 50}
	if p := v.Get("phase"); p != "" {
		q.phases = map[string]bool{}
		for _, ph := range strings.Split(p, ",") {
			if !slices.Contains(runPhases, ph) {
				return nil, fmt.Errorf("phase: %q is not a run phase (%s)", ph, strings.Join(runPhases, ", "))
			}
			q.phases[ph] = true
		}
	}
	if a := v.Get("archived"); a != "" {
		b, err := strconv.ParseBool(a)
		if err != nil {
			return nil, fmt.Errorf("archived: %q is not true or false", a)
		}
		q.archived = b
	}
	if s := v.Get("sort"); s != "" {
		key, desc := strings.CutPrefix(s, "-")
		if !slices.Contains(runSortKeys, key) {
			return nil, fmt.Errorf("sort: %q is not one of %s (prefix - for descending)", s, strings.Join(runSortKeys, ", "))
		}
		q.sortKey, q.desc = key, desc
	}
	var err error
	if q.limit, err = intParam(v.Get("limit"), 50, 1, 500); err != nil {
		return nil, fmt.Errorf("limit: %w", err)
	}
	if q.offset, err = intParam(v.Get("offset"), 0, 0, 1<<30); err != nil {
		return nil, fmt.Errorf("offset: %w", err)
	}
	return q, nil
}

// intParam parses an integer query parameter in [lo, hi], def when empty.
func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is not between %d and %d", n, lo, hi)
	}
	return n, nil
}

func (q *runQuery) match(s *runSummary, archived map[string]bool) bool {
	switch {
	case q.experiment != "" && s.Experiment != q.experiment:
		return false
	case q.experiment == "" && !q.archived && archived[s.Experiment]:
		return false
	case q.pipeline != "" && s.Pipeline != q.pipeline:
		return false
	case q.phases != nil && !q.phases[s.Phase]:
		return false
	case q.text != "" && !strings.Contains(strings.ToLower(s.Name), q.text) && !strings.Contains(strings.ToLower(s.Pipeline), q.text):
		return false
	}
	return true
}

func (q *runQuery) compare(a, b *runSummary) int {
	c := 0
	switch q.sortKey {
	case "created":
		c = a.Created.Compare(b.Created)
	case "started":
		c = cmp.Compare(unixOr0(a.Started), unixOr0(b.Started))
	case "duration":
		c = cmp.Compare(a.DurationMS, b.DurationMS)
	case "name":
		c = strings.Compare(a.Name, b.Name)
	case "phase":
		c = strings.Compare(a.Phase, b.Phase)
	case "pipeline":
		c = strings.Compare(a.Pipeline, b.Pipeline)
	case "experiment":
		c = strings.Compare(a.Experiment, b.Experiment)
	}
	if q.desc {
		c = -c
	}
	return cmp.Or(c, strings.Compare(a.Name, b.Name))
}

func unixOr0(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

// runList is a page of the run list.
type runList struct {
	Runs   []runSummary `json:"runs"`
	Total  int          `json:"total"`
	Offset int          `json:"offset"`
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns := r.PathValue("ns")
	if !s.may(w, r, id, readRuns(ns)) || !s.namespaceKnown(w, r, ns) {
		return
	}
	q, err := parseRunQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	runs := &v1alpha1.PipelineRunList{}
	if err := s.data.cache.List(r.Context(), runs, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		httpError(w, err)
		return
	}
	archived, err := s.archivedExperiments(r, ns)
	if err != nil {
		httpError(w, err)
		return
	}
	now := time.Now()
	var out []runSummary
	for i := range runs.Items {
		sum := summarize(&runs.Items[i], now)
		if q.match(&sum, archived) {
			out = append(out, sum)
		}
	}
	slices.SortFunc(out, func(a, b runSummary) int { return q.compare(&a, &b) })
	page := runList{Total: len(out), Offset: q.offset, Runs: []runSummary{}}
	if q.offset < len(out) {
		page.Runs = out[q.offset:min(len(out), q.offset+q.limit)]
	}
	writeJSON(w, page)
}

// namespaceKnown answers 404 for a namespace that does not exist.
func (s *Server) namespaceKnown(w http.ResponseWriter, r *http.Request, ns string) bool {
	ok, err := s.data.namespaceExists(r.Context(), ns)
	if err != nil {
		httpError(w, err)
		return false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "namespace %s does not exist", ns)
		return false
	}
	return true
}

func (s *Server) archivedExperiments(r *http.Request, ns string) (map[string]bool, error) {
	exps := &v1alpha1.ExperimentList{}
	if err := s.data.cache.List(r.Context(), exps, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range exps.Items {
		if e.Spec.Archived {
			out[e.Name] = true
		}
	}
	return out, nil
}

// runDetail is a run page's header: the summary, with the spec and
// conditions.
type runDetail struct {
	runSummary
	PipelineRoot   string          `json:"pipelineRoot,omitempty"`
	ServiceAccount string          `json:"serviceAccount,omitempty"`
	Parallelism    int32           `json:"parallelism,omitempty"`
	Timeout        string          `json:"timeout,omitempty"`
	Conditions     []conditionJSON `json:"conditions,omitempty"`
	Note           string          `json:"note,omitempty"`
	RootNode       *nodeJSON       `json:"root,omitempty"`
	Actions        map[string]bool `json:"actions"`
	ResourceVer    string          `json:"resourceVersion"`
}

type conditionJSON struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("run")
	if !s.may(w, r, id, readRun(ns, name)) {
		return
	}
	run, err := s.data.run(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return
	}
	v := s.data.view(r.Context(), run)
	d := runDetail{
		runSummary: summarize(run, time.Now()), PipelineRoot: run.Spec.PipelineRoot, ServiceAccount: run.Spec.ServiceAccountName,
		Parallelism: run.Spec.Parallelism, Note: v.note, ResourceVer: run.ResourceVersion,
		Actions: map[string]bool{"cancel": !run.Status.Phase.Terminal() && !run.Spec.Cancel && s.mayQuietly(r.Context(), id, patchRun(ns, name))},
	}
	if run.Spec.Timeout != nil {
		d.Timeout = run.Spec.Timeout.Duration.String()
	}
	for _, c := range run.Status.Conditions {
		d.Conditions = append(d.Conditions, conditionJSON{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	if v.state != nil && v.eng != nil {
		n := v.node(0)
		d.RootNode = &n
	}
	writeJSON(w, d)
}
