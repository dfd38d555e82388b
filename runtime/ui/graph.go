package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// nodeJSON is one box of a graph: a task of a DAG (a container, an
// importer, a nested DAG, a loop) or a loop iteration. DAGs, conditions
// and loops are drawn collapsed, with what their tasks are doing; the page
// expands them by asking for their scope.
type nodeJSON struct {
	// ID is the node's index in the run's state (-1 for a task that has
	// not been reached yet, and in a pipeline's graph).
	ID   int32  `json:"id"`
	Name string `json:"name"`
	// Path is the task's path in the run or the pipeline.
	Path string `json:"path"`
	// Kind is container, importer, dag, loop or iteration.
	Kind string `json:"kind"`
	// Component is the component the task runs.
	Component string `json:"component,omitempty"`
	Image     string `json:"image,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Cached    bool   `json:"cached,omitempty"`
	Attempts  int32  `json:"attempts,omitempty"`
	// Begin and End are Unix milliseconds.
	Begin   int64  `json:"begin,omitempty"`
	End     int64  `json:"end,omitempty"`
	Message string `json:"message,omitempty"`
	// Condition is a task's trigger condition.
	Condition string `json:"condition,omitempty"`
	// Loop describes a ParallelFor: its iterations and parallelism.
	Iterations int32 `json:"iterations,omitempty"`
	// Tasks counts the container tasks inside a DAG, loop or iteration by
	// phase.
	Tasks map[string]int32 `json:"tasks,omitempty"`
	// Deps are the indices, in the graph's node list, of the tasks this
	// one waits for.
	Deps []int `json:"deps,omitempty"`
	// ExitHandler marks a task that runs whatever its upstream did.
	ExitHandler bool `json:"exitHandler,omitempty"`
}

// graphJSON is one level of a graph: the tasks of a DAG, or a page of a
// loop's iterations.
type graphJSON struct {
	Scope  nodeJSON   `json:"scope"`
	Nodes  []nodeJSON `json:"nodes"`
	Total  int        `json:"total"`
	Offset int        `json:"offset"`
	Note   string     `json:"note,omitempty"`
}

func kindOf(t *pipeline.Task) string {
	switch {
	case t == nil:
		return "dag"
	case t.Loop != nil:
		return "loop"
	case t.Component.DAG != nil:
		return "dag"
	case t.Component.Executor != nil && t.Component.Executor.Importer != nil:
		return "importer"
	}
	return "container"
}

// taskNode describes a task from the plan alone.
func taskNode(t *pipeline.Task, path string) nodeJSON {
	n := nodeJSON{ID: -1, Name: t.Name, Path: path, Kind: kindOf(t), Component: t.Component.Name, Condition: t.ConditionText, ExitHandler: t.RunsOnUpstreamFailure}
	if ex := t.Component.Executor; ex != nil && ex.Container != nil {
		n.Image = ex.Container.Image
	}
	if t.Loop != nil && t.Loop.Raw != nil {
		n.Iterations = int32(len(t.Loop.Raw))
	}
	return n
}

// node describes node i of the run.
func (v *runView) node(i int32) nodeJSON {
	s := v.state
	n := &s.Nodes[i]
	var out nodeJSON
	switch {
	case i == 0:
		out = nodeJSON{ID: 0, Name: v.plan.Name, Kind: "dag"}
	case n.Iter >= 0:
		out = nodeJSON{ID: i, Name: "[" + strconv.Itoa(int(n.Iter)) + "]", Path: v.eng.Path(s, i), Kind: "iteration"}
	default:
		out = taskNode(v.eng.Task(s, i), v.eng.Path(s, i))
		out.ID = i
	}
	out.Phase, out.Cached, out.Message = n.Phase.String(), n.Cached, n.Message
	if out.Kind == "container" {
		out.Attempts = n.Attempt
	}
	if n.Begin > 0 || n.Phase != engine.Pending {
		out.Begin = s.Start + n.Begin
	}
	if n.End > 0 {
		out.End = s.Start + n.End
	}
	if out.Kind == "loop" {
		out.Iterations = n.Count
	}
	if out.Kind != "container" && out.Kind != "importer" {
		out.Tasks = map[string]int32{}
		for p, c := range v.counts[i] {
			if c > 0 {
				out.Tasks[engine.Phase(p).String()] = c
			}
		}
	}
	return out
}

// dagNodes lists the tasks of dag with their dependencies, as the nodes of
// the state when the DAG instance has created them (first >= 0).
func (v *runView) dagNodes(dag *pipeline.DAG, first int32, prefix string) []nodeJSON {
	out := make([]nodeJSON, len(dag.Tasks))
	for k, t := range dag.Tasks {
		if first >= 0 && v.state != nil {
			out[k] = v.node(first + int32(k))
		} else {
			out[k] = taskNode(t, joinPath(prefix, t.Name))
			if v.state != nil {
				out[k].Phase = engine.Pending.String()
			}
		}
		out[k].Deps = t.Deps
	}
	return out
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// maxIterationsPage bounds a page of a loop's iterations.
const maxIterationsPage = 500

func (s *Server) runGraph(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, name := r.PathValue("ns"), r.PathValue("run")
	if !s.may(w, r, id, readRun(ns, name)) {
		return
	}
	q := r.URL.Query()
	scope, err := intParam(q.Get("scope"), 0, 0, 1<<31-1)
	if err != nil {
		writeError(w, http.StatusBadRequest, "scope: %v", err)
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<31-1)
	if err != nil {
		writeError(w, http.StatusBadRequest, "offset: %v", err)
		return
	}
	limit, err := intParam(q.Get("limit"), 100, 1, maxIterationsPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: %v", err)
		return
	}
	run, err := s.data.run(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return
	}
	v := s.data.view(r.Context(), run)
	if v.plan == nil {
		writeJSON(w, graphJSON{Note: v.note, Nodes: []nodeJSON{}})
		return
	}
	if v.state == nil {
		if scope != 0 {
			writeError(w, http.StatusNotFound, "the run has not started: it has no node %d", scope)
			return
		}
		writeJSON(w, graphJSON{Scope: nodeJSON{ID: 0, Name: v.plan.Name, Kind: "dag", Phase: engine.Pending.String()}, Nodes: v.dagNodes(v.plan.Root.DAG, -1, ""), Total: len(v.plan.Root.DAG.Tasks)})
		return
	}
	if scope >= len(v.state.Nodes) {
		writeError(w, http.StatusNotFound, "run %s has no node %d (it has %d)", name, scope, len(v.state.Nodes))
		return
	}
	i := int32(scope)
	g := graphJSON{Scope: v.node(i), Offset: offset}
	n := &v.state.Nodes[i]
	switch {
	case v.eng.IsLoop(v.state, i):
		g.Total = int(n.Count)
		for k := offset; k < min(int(n.Count), offset+limit); k++ {
			g.Nodes = append(g.Nodes, v.node(n.First+int32(k)))
		}
	case v.eng.DAG(v.state, i) != nil:
		dag := v.eng.DAG(v.state, i)
		g.Nodes, g.Total = v.dagNodes(dag, n.First, g.Scope.Path), len(dag.Tasks)
	default:
		writeError(w, http.StatusBadRequest, "node %d (%s) is a %s task: it has no graph of its own", i, g.Scope.Path, g.Scope.Kind)
		return
	}
	if g.Nodes == nil {
		g.Nodes = []nodeJSON{}
	}
	writeJSON(w, g)
}

// planScope finds the DAG at path in a plan: task names joined by "/",
// a loop standing for its body.
func planScope(plan *pipeline.Plan, path string) (*pipeline.DAG, *pipeline.Task, error) {
	dag := plan.Root.DAG
	var task *pipeline.Task
	if path == "" {
		return dag, nil, nil
	}
	for _, name := range strings.Split(path, "/") {
		t := dag.Task(name)
		if t == nil {
			return nil, nil, &errNotFound{fmt.Sprintf("the pipeline has no task %q in %q", name, path)}
		}
		if t.Component.DAG == nil {
			return nil, nil, fmt.Errorf("task %q is a %s: it has no graph of its own", name, kindOf(t))
		}
		dag, task = t.Component.DAG, t
	}
	return dag, task, nil
}
