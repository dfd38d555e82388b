package ui

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

type experimentJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Archived    bool            `json:"archived,omitempty"`
	Exists      bool            `json:"exists"`
	Runs        int             `json:"runs"`
	Phases      map[string]int  `json:"phases,omitempty"`
	LastRun     *time.Time      `json:"lastRun,omitempty"`
	Created     *time.Time      `json:"created,omitempty"`
	Actions     map[string]bool `json:"actions"`
}

func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns := r.PathValue("ns")
	if !s.may(w, r, id, readRuns(ns)) || !s.may(w, r, id, readExperiments(ns)) || !s.namespaceKnown(w, r, ns) {
		return
	}
	showArchived := r.URL.Query().Get("archived") == "true"
	ctx := r.Context()
	exps := &v1alpha1.ExperimentList{}
	runs := &v1alpha1.PipelineRunList{}
	for _, l := range []client.ObjectList{exps, runs} {
		if err := s.data.cache.List(ctx, l, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			httpError(w, err)
			return
		}
	}
	byName := map[string]*experimentJSON{}
	get := func(name string) *experimentJSON {
		if byName[name] == nil {
			byName[name] = &experimentJSON{Name: name, Phases: map[string]int{}}
		}
		return byName[name]
	}
	for _, e := range exps.Items {
		x := get(e.Name)
		created := e.CreationTimestamp.UTC()
		x.Description, x.Archived, x.Exists, x.Created = e.Spec.Description, e.Spec.Archived, true, &created
	}
	for i := range runs.Items {
		run := &runs.Items[i]
		x := get(v1alpha1.ExperimentOf(run))
		x.Runs++
		phase := string(run.Status.Phase)
		if phase == "" {
			phase = string(v1alpha1.RunPending)
		}
		x.Phases[phase]++
		if t := run.CreationTimestamp.UTC(); x.LastRun == nil || t.After(*x.LastRun) {
			x.LastRun = &t
		}
	}
	out := []experimentJSON{}
	for _, name := range sortedKeys(byName) {
		x := byName[name]
		if x.Archived && !showArchived {
			continue
		}
		q := patchExperiment(ns, name)
		if !x.Exists {
			q = createExperiments(ns)
		}
		x.Actions = map[string]bool{"archive": s.mayQuietly(ctx, id, q), "startRun": s.mayQuietly(ctx, id, createRuns(ns))}
		out = append(out, *x)
	}
	writeJSON(w, out)
}

// comparedRun is a run in an experiment's comparison.
type comparedRun struct {
	runSummary
	Metrics map[string]float64 `json:"metrics"`
	// Classification lists its ClassificationMetrics artifacts.
	Classification []artifactRefJSON `json:"classification,omitempty"`
}

type comparison struct {
	Experiment experimentJSON `json:"experiment"`
	Parameters []string       `json:"parameters"`
	Metrics    []string       `json:"metrics"`
	Runs       []comparedRun  `json:"runs"`
}

// maxCompared bounds the runs of one comparison (the newest are kept).
const maxCompared = 500

// compareExperiment puts an experiment's runs side by side: their
// parameters, and the metrics their tasks logged (system.Metrics
// artifacts' values, and numeric output parameters of the run).
func (s *Server) compareExperiment(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("experiment")
	if !s.may(w, r, id, readRuns(ns)) || !s.may(w, r, id, readExperiments(ns)) || !s.namespaceKnown(w, r, ns) {
		return
	}
	ctx := r.Context()
	var only map[string]bool
	if list := r.URL.Query().Get("runs"); list != "" {
		only = map[string]bool{}
		for _, n := range strings.Split(list, ",") {
			only[n] = true
		}
	}
	runs := &v1alpha1.PipelineRunList{}
	if err := s.data.cache.List(ctx, runs, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		httpError(w, err)
		return
	}
	exp := &v1alpha1.Experiment{}
	cmpOut := comparison{Experiment: experimentJSON{Name: name}}
	if err := s.data.cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, exp); err == nil {
		cmpOut.Experiment.Exists, cmpOut.Experiment.Description, cmpOut.Experiment.Archived = true, exp.Spec.Description, exp.Spec.Archived
	}
	var members []*v1alpha1.PipelineRun
	for i := range runs.Items {
		run := &runs.Items[i]
		if v1alpha1.ExperimentOf(run) == name && (only == nil || only[run.Name]) {
			members = append(members, run)
		}
	}
	if len(members) == 0 && !cmpOut.Experiment.Exists {
		writeError(w, http.StatusNotFound, "experiment %s has no runs and no Experiment object in namespace %s", name, ns)
		return
	}
	for n := range only {
		if !slices.ContainsFunc(members, func(r *v1alpha1.PipelineRun) bool { return r.Name == n }) {
			writeError(w, http.StatusNotFound, "run %s is not in experiment %s", n, name)
			return
		}
	}
	slices.SortFunc(members, func(a, b *v1alpha1.PipelineRun) int { return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) })
	if len(members) > maxCompared {
		members = members[:maxCompared]
	}
	params, metrics := map[string]bool{}, map[string]bool{}
	now := time.Now()
	for _, run := range members {
		m := s.data.metricsOf(ctx, run)
		cr := comparedRun{runSummary: summarize(run, now), Metrics: m.values, Classification: m.classification}
		for k := range run.Spec.Parameters {
			params[k] = true
		}
		for k := range m.values {
			metrics[k] = true
		}
		cmpOut.Runs = append(cmpOut.Runs, cr)
		cmpOut.Experiment.Runs++
	}
	cmpOut.Parameters, cmpOut.Metrics = sortedKeys(params), sortedKeys(metrics)
	if cmpOut.Runs == nil {
		cmpOut.Runs = []comparedRun{}
	}
	writeJSON(w, cmpOut)
}

// runMetrics are the metrics of one run.
type runMetrics struct {
	values         map[string]float64
	classification []artifactRefJSON
}

// metricsCache keeps runs' metrics by UID and resourceVersion: a finished
// run never changes, so comparing a big experiment again costs nothing.
type metricsCache struct {
	mu    sync.Mutex
	items map[string]runMetrics
}

const maxMetricsCached = 20000

// metricsOf collects a run's metrics: the values of its tasks'
// system.Metrics artifacts (named by the value's key, or task/key where
// two tasks log the same key) and its numeric output parameters.
func (d *data) metricsOf(ctx context.Context, run *v1alpha1.PipelineRun) runMetrics {
	key := string(run.UID) + "/" + run.ResourceVersion
	d.metrics.mu.Lock()
	if m, ok := d.metrics.items[key]; ok {
		d.metrics.mu.Unlock()
		return m
	}
	d.metrics.mu.Unlock()
	m := runMetrics{values: map[string]float64{}}
	for k, v := range run.Status.Outputs {
		if f, ok := parseNumber(v); ok {
			m.values[k] = f
		}
	}
	v := d.view(ctx, run)
	if v.state != nil && v.eng != nil {
		type logged struct {
			task string
			val  float64
		}
		byKey := map[string][]logged{}
		for i := range v.state.Nodes {
			n := &v.state.Nodes[i]
			for out, list := range n.Artifacts {
				for k, a := range list {
					if i == 0 || !v.eng.IsContainer(v.state, int32(i)) {
						continue
					}
					switch a.SchemaTitle {
					case "system.Metrics":
						for mk, mv := range a.Metadata {
							if f, ok := mv.(float64); ok && !math.IsNaN(f) && !strings.HasPrefix(mk, "display_name") {
								byKey[mk] = append(byKey[mk], logged{task: v.eng.Path(v.state, int32(i)), val: f})
							}
						}
					case "system.ClassificationMetrics":
						m.classification = append(m.classification, artifactRefJSON{Namespace: run.Namespace, Run: run.Name, Node: int32(i), Task: v.eng.Path(v.state, int32(i)), Output: out, Index: k, Attempt: n.Attempt})
					}
				}
			}
		}
		for mk, list := range byKey {
			if len(list) == 1 {
				m.values[mk] = list[0].val
				continue
			}
			for _, l := range list {
				m.values[l.task+"/"+mk] = l.val
			}
		}
	}
	d.metrics.mu.Lock()
	if len(d.metrics.items) >= maxMetricsCached {
		clear(d.metrics.items)
	}
	d.metrics.items[key] = m
	d.metrics.mu.Unlock()
	return m
}
