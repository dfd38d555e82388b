package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

type pipelineJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Latest      int32           `json:"latest"`
	Versions    []versionJSON   `json:"versions,omitempty"`
	Ready       string          `json:"ready,omitempty"`
	Message     string          `json:"message,omitempty"`
	Created     time.Time       `json:"created"`
	Runs        int             `json:"runs"`
	Actions     map[string]bool `json:"actions,omitempty"`
}

type versionJSON struct {
	Number      int32           `json:"number"`
	Created     time.Time       `json:"created"`
	ContentHash string          `json:"contentHash"`
	Format      string          `json:"format"`
	Parameters  []parameterJSON `json:"parameters,omitempty"`
	Tasks       int             `json:"tasks,omitempty"`
	Error       string          `json:"error,omitempty"`
}

type parameterJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Default  any    `json:"default,omitempty"`
	Optional bool   `json:"optional,omitempty"`
}

func describePipeline(p *v1alpha1.Pipeline) pipelineJSON {
	out := pipelineJSON{Name: p.Name, Description: p.Spec.Description, Latest: p.Status.LatestVersion, Created: p.CreationTimestamp.UTC()}
	if c := apimeta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		out.Ready, out.Message = string(c.Status), c.Message
	}
	return out
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns := r.PathValue("ns")
	if !s.may(w, r, id, readPipelines(ns)) || !s.namespaceKnown(w, r, ns) {
		return
	}
	list := &v1alpha1.PipelineList{}
	runs := &v1alpha1.PipelineRunList{}
	for _, l := range []client.ObjectList{list, runs} {
		if err := s.data.cache.List(r.Context(), l, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			httpError(w, err)
			return
		}
	}
	counts := map[string]int{}
	for _, run := range runs.Items {
		counts[run.Spec.Pipeline]++
	}
	out := []pipelineJSON{}
	for i := range list.Items {
		p := describePipeline(&list.Items[i])
		p.Runs = counts[p.Name]
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pipelineJSON) int { return compareStrings(a.Name, b.Name) })
	writeJSON(w, out)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("pipeline")
	if !s.may(w, r, id, readPipeline(ns, name)) {
		return
	}
	p, err := s.data.pipeline(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return
	}
	out := describePipeline(p)
	for i := len(p.Status.Versions) - 1; i >= 0; i-- {
		v := &p.Status.Versions[i]
		vj := versionJSON{Number: v.Number, Created: v.Created.UTC(), ContentHash: v.ContentHash, Format: "kfp"}
		if c, err := s.data.contentOf(r.Context(), p.Namespace, v); err == nil && c.Spec == "" {
			vj.Format = "dag"
		}
		if plan, _, err := s.data.planOf(r.Context(), p, v.Number); err != nil {
			vj.Error = err.Error()
		} else {
			vj.Parameters = parametersOf(plan)
			vj.Tasks = len(plan.Root.DAG.Tasks)
		}
		out.Versions = append(out.Versions, vj)
	}
	out.Actions = map[string]bool{"startRun": s.mayQuietly(r.Context(), id, createRuns(ns))}
	writeJSON(w, out)
}

func parametersOf(plan *pipeline.Plan) []parameterJSON {
	var out []parameterJSON
	for _, name := range sortedKeys(plan.Root.Inputs.Parameters) {
		def := plan.Root.Inputs.Parameters[name]
		out = append(out, parameterJSON{Name: name, Type: string(def.ParameterType), Default: def.DefaultValue, Optional: def.IsOptional})
	}
	return out
}

// versionOf resolves the {version} of a pipeline URL.
func (s *Server) versionOf(w http.ResponseWriter, r *http.Request, id *Identity, param string) (*pipeline.Plan, *v1alpha1.PipelineVersion, bool) {
	ns, name := r.PathValue("ns"), r.PathValue("pipeline")
	if !s.may(w, r, id, readPipeline(ns, name)) {
		return nil, nil, false
	}
	raw := r.PathValue("version")
	if param != "" {
		raw = r.URL.Query().Get(param)
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, "%s: %q is not a version number", cmpOr(param, "version"), raw)
		return nil, nil, false
	}
	p, err := s.data.pipeline(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return nil, nil, false
	}
	plan, v, err := s.data.planOf(r.Context(), p, int32(n))
	if err != nil && v == nil {
		httpError(w, err)
		return nil, nil, false
	}
	return plan, v, true
}

func (s *Server) pipelineGraph(w http.ResponseWriter, r *http.Request, id *Identity) {
	plan, _, ok := s.versionOf(w, r, id, "")
	if !ok {
		return
	}
	if plan == nil {
		writeError(w, http.StatusUnprocessableEntity, "the version does not compile")
		return
	}
	path := r.URL.Query().Get("scope")
	dag, task, err := planScope(plan, path)
	if err != nil {
		var nf *errNotFound
		if errors.As(err, &nf) {
			writeError(w, http.StatusNotFound, "%v", err)
		} else {
			writeError(w, http.StatusBadRequest, "scope: %v", err)
		}
		return
	}
	scope := nodeJSON{ID: -1, Name: plan.Name, Kind: "dag"}
	if task != nil {
		scope = taskNode(task, path)
	}
	v := &runView{plan: plan}
	g := graphJSON{Scope: scope, Nodes: v.dagNodes(dag, -1, path), Total: len(dag.Tasks)}
	writeJSON(w, g)
}

// versionText is a version's content as text: the KFP spec as written, or
// the native DAG as YAML.
func versionText(v v1alpha1.PipelineSpec) string {
	if v.Spec != "" {
		return v.Spec
	}
	var obj any
	if err := json.Unmarshal([]byte(v.DAG), &obj); err == nil {
		if b, err := yaml.Marshal(obj); err == nil {
			return string(b)
		}
	}
	return v.DAG
}

type taskChange struct {
	Path   string `json:"path"`
	Change string `json:"change"`
}

type pipelineDiff struct {
	From  int32        `json:"from"`
	To    int32        `json:"to"`
	Tasks []taskChange `json:"tasks"`
	Hunks []diffHunk   `json:"hunks"`
	Error string       `json:"error,omitempty"`
}

// diffPipeline compares two versions: the tasks added, removed or changed
// (their component's definition), and a line diff of the content.
func (s *Server) diffPipeline(w http.ResponseWriter, r *http.Request, id *Identity) {
	fromPlan, from, ok := s.versionOf(w, r, id, "from")
	if !ok {
		return
	}
	toPlan, to, ok := s.versionOf(w, r, id, "to")
	if !ok {
		return
	}
	out := pipelineDiff{From: from.Number, To: to.Number, Tasks: []taskChange{}}
	if fromPlan != nil && toPlan != nil {
		a, b := taskDigests(fromPlan), taskDigests(toPlan)
		for _, p := range sortedKeys(a) {
			switch d, ok := b[p]; {
			case !ok:
				out.Tasks = append(out.Tasks, taskChange{Path: p, Change: "removed"})
			case d != a[p]:
				out.Tasks = append(out.Tasks, taskChange{Path: p, Change: "changed"})
			}
		}
		for _, p := range sortedKeys(b) {
			if _, ok := a[p]; !ok {
				out.Tasks = append(out.Tasks, taskChange{Path: p, Change: "added"})
			}
		}
	}
	ns := r.PathValue("ns")
	fromContent, ferr := s.data.contentOf(r.Context(), ns, from)
	toContent, terr := s.data.contentOf(r.Context(), ns, to)
	if ferr != nil || terr != nil {
		out.Error = fmt.Sprintf("reading the versions' content: %v", errors.Join(ferr, terr))
		out.Hunks = []diffHunk{}
		writeJSON(w, out)
		return
	}
	hunks, err := lineDiff(versionText(fromContent), versionText(toContent), 3)
	if err != nil {
		out.Error = err.Error()
	}
	out.Hunks = hunks
	if out.Hunks == nil {
		out.Hunks = []diffHunk{}
	}
	writeJSON(w, out)
}

// taskDigests maps every task path of a plan to what defines it: its
// component's digest, dependencies and condition.
func taskDigests(plan *pipeline.Plan) map[string]string {
	out := map[string]string{}
	var walk func(dag *pipeline.DAG, prefix string)
	walk = func(dag *pipeline.DAG, prefix string) {
		for _, t := range dag.Tasks {
			p := joinPath(prefix, t.Name)
			b, _ := json.Marshal(t.Spec)
			out[p] = t.Component.Digest + "|" + string(b)
			if t.Component.DAG != nil {
				walk(t.Component.DAG, p)
			}
		}
	}
	walk(plan.Root.DAG, "")
	return out
}
