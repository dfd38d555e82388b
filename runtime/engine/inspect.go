package engine

import (
	"fmt"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// Functions for readers of a run's state that do not step it (the UI):
// what a node received, and which graph holds its children.

// Inputs resolves again the inputs node i received: the parameters and
// artifacts of a task (a container, an importer, a DAG or a loop task) or
// the scope of a loop iteration (the loop's inputs and its item). They
// come from finished nodes, which do not change, so they are what the
// task saw when it started; a node whose producers have not finished yet
// may not resolve.
func (e *Engine) Inputs(s *State, i int32) (map[string]any, map[string][]Artifact, error) {
	if i <= 0 || int(i) >= len(s.Nodes) {
		return nil, nil, fmt.Errorf("node %d is not a task of the run", i)
	}
	st := &stepper{e: e, s: s, scopes: map[int32]*scope{}}
	n := &s.Nodes[i]
	if n.Iter >= 0 {
		sc, err := st.scopeOf(i)
		if err != nil {
			return nil, nil, err
		}
		return sc.params, sc.arts, nil
	}
	return st.resolve(n.Parent, e.task(s, i))
}

// DAG returns the graph whose tasks are node i's children: the pipeline's
// root DAG for node 0, a DAG task's or a loop iteration's body; nil for a
// container, an importer or a loop node (whose children are iterations).
func (e *Engine) DAG(s *State, i int32) *pipeline.DAG { return e.dagOf(s, i) }

// IsLoop reports whether node i is a ParallelFor (its children are
// iterations).
func (e *Engine) IsLoop(s *State, i int32) bool { return e.isLoop(s, i) }
