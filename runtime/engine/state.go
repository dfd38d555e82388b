// Package engine runs a compiled pipeline as a state machine. It performs
// no I/O and does not know where its state lives: the CLI keeps the State
// in memory, the controller stores it in a PipelineRun's status. Executors
// (local processes, pods) start what the engine asks for and report back
// through events.
package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Phase is the state of one node (a task attempt, a DAG, a loop).
type Phase uint8

// Node phases. The order matters: phases from Succeeded on are terminal.
const (
	// Pending waits for its dependencies.
	Pending Phase = iota
	// Ready has its inputs and waits for a free execution slot.
	Ready
	// Running has an attempt in flight, or children still running.
	Running
	// Waiting is between a failed attempt and its retry.
	Waiting
	// Succeeded finished well (or was served from the cache).
	Succeeded
	// Failed finished badly after its last retry.
	Failed
	// Skipped did not run: its condition was false or its upstream failed.
	Skipped
	// Cancelled was stopped by a cancel.
	Cancelled
)

var phaseNames = [...]string{"Pending", "Ready", "Running", "Waiting", "Succeeded", "Failed", "Skipped", "Cancelled"}

// phaseCodes are the one-letter codes of the compact encoding.
const phaseCodes = "PQRWSFKC"

// String returns the phase's name.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// Terminal reports whether the phase is final.
func (p Phase) Terminal() bool { return p >= Succeeded }

// Artifact is one artifact produced or consumed by a task.
type Artifact struct {
	// Name is the artifact's name (the output key).
	Name string `json:"name,omitempty"`
	// URI is where the artifact is stored (gs://, s3://, file://).
	URI string `json:"uri"`
	// SchemaTitle is the artifact type, e.g. system.Model.
	SchemaTitle string `json:"type,omitempty"`
	// Metadata is free-form, as written by the task.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Node is one instance in the run: the root DAG, a task of a DAG, a loop
// or one loop iteration. Nodes live in State.Nodes and refer to each other
// by index, which keeps the state flat and small.
type Node struct {
	// Parent is the index of the enclosing DAG or loop node (-1 for the root).
	Parent int32
	// Task is the index of the task in the parent DAG's Tasks (-1 for the
	// root and for loop iterations).
	Task int32
	// Iter is the iteration number of a loop iteration (-1 otherwise).
	Iter int32
	// First is the index of the first child (DAG tasks and loop iterations
	// are created together, so children are contiguous); -1 before the
	// children exist.
	First int32
	// Count is the number of children.
	Count int32
	// Phase is the node's state.
	Phase Phase
	// Attempt counts started attempts of a container task.
	Attempt int32
	// Cached is set when the result came from the cache.
	Cached bool
	// Begin and End are milliseconds since the run started (0: not yet).
	Begin, End int64
	// Wake is when a Waiting node may retry, in milliseconds since the run started.
	Wake int64
	// Message explains a failure or a skip.
	Message string
	// Params are the node's output parameters (a DAG's outputs, a loop's
	// collected lists).
	Params map[string]any
	// Artifacts are the node's output artifacts.
	Artifacts map[string][]Artifact
	// Items are a loop's resolved items (parameter iterator).
	Items []any
	// ItemArtifacts are a loop's resolved items (artifact iterator).
	ItemArtifacts []Artifact
}

// RunPhase is the state of a whole run.
type RunPhase string

// Run phases.
const (
	RunRunning   RunPhase = "Running"
	RunSucceeded RunPhase = "Succeeded"
	RunFailed    RunPhase = "Failed"
	RunCancelled RunPhase = "Cancelled"
)

// State is everything the engine needs to continue a run. It serialises
// (MarshalJSON) in a columnar form so that a run with thousands of tasks
// stays far below the size limit of a Kubernetes object.
type State struct {
	// RunID names the run; it is the pipeline job name in placeholders.
	RunID string
	// RunUID identifies this run among runs of the same name (a run
	// deleted and made again): the pipeline job UUID in placeholders and
	// the run's directory under the pipeline root. Empty for runs without
	// one (the CLI's), which use RunID.
	RunUID string
	// Start is the run's start time in Unix milliseconds.
	Start int64
	// Phase is the run's state.
	Phase RunPhase
	// Message explains a failed run.
	Message string
	// Params are the run's bound parameters.
	Params map[string]any
	// Inputs are the run's input artifacts (a pipeline whose root takes
	// artifacts), by name.
	Inputs map[string][]Artifact
	// CancelRequested is set once a cancel arrived.
	CancelRequested bool
	// Nodes are all instances; Nodes[0] is the root DAG.
	Nodes []Node

	// idx is derived from Nodes and rebuilt after loading.
	idx *index
}

// Clone returns a deep enough copy for callers that keep the previous state.
func (s *State) Clone() *State {
	c := *s
	c.Nodes = append([]Node(nil), s.Nodes...)
	c.idx = nil
	return &c
}

type stateJSON struct {
	RunID   string                  `json:"run"`
	RunUID  string                  `json:"uid,omitempty"`
	Start   int64                   `json:"start"`
	Phase   RunPhase                `json:"phase"`
	Message string                  `json:"msg,omitempty"`
	Params  map[string]any          `json:"params,omitempty"`
	Inputs  map[string][]Artifact   `json:"inputs,omitempty"`
	Cancel  bool                    `json:"cancel,omitempty"`
	Phases  string                  `json:"p"`
	Parents []int32                 `json:"parents"`
	Loops   []int32                 `json:"loops,omitempty"`
	Begin   []int64                 `json:"begin"`
	Dur     []int64                 `json:"dur"`
	Attempt map[string]int32        `json:"attempt,omitempty"`
	Wake    map[string]int64        `json:"wake,omitempty"`
	Cached  []int32                 `json:"cached,omitempty"`
	Details map[string]*nodeDetails `json:"details,omitempty"`
}

type nodeDetails struct {
	Message       string                `json:"msg,omitempty"`
	Params        map[string]any        `json:"params,omitempty"`
	Artifacts     map[string][]Artifact `json:"artifacts,omitempty"`
	Items         []any                 `json:"items,omitempty"`
	ItemArtifacts []Artifact            `json:"itemArtifacts,omitempty"`
}

// MarshalJSON writes the compact form. Everything that follows from the
// creation order is left out: children of a node are contiguous and in
// task order, so a node's task index, iteration number and children are
// recomputed from the parents column, which is run-length encoded
// (triples: parent, run length, how many following parents repeat the run
// with parent+1). Start times are deltas from the previous node's, and
// durations are stored instead of end times, so most numbers are short.
func (s *State) MarshalJSON() ([]byte, error) {
	n := len(s.Nodes)
	j := stateJSON{
		RunID: s.RunID, RunUID: s.RunUID, Start: s.Start, Phase: s.Phase, Message: s.Message, Params: s.Params, Inputs: s.Inputs, Cancel: s.CancelRequested,
		Begin: make([]int64, n), Dur: make([]int64, n), Parents: []int32{},
	}
	phases := make([]byte, n)
	var prevBegin int64
	for i := range s.Nodes {
		nd := &s.Nodes[i]
		key := strconv.Itoa(i)
		phases[i] = phaseCodes[nd.Phase]
		j.Begin[i] = nd.Begin - prevBegin
		prevBegin = nd.Begin
		if nd.End > 0 {
			j.Dur[i] = nd.End - nd.Begin + 1
		}
		if nd.First >= 0 && nd.Count > 0 && nd.Task >= 0 && nd.Iter < 0 && s.Nodes[nd.First].Iter >= 0 {
			j.Loops = append(j.Loops, int32(i))
		}
		if nd.Attempt != inferredAttempt(nd.Phase) {
			if j.Attempt == nil {
				j.Attempt = map[string]int32{}
			}
			j.Attempt[key] = nd.Attempt
		}
		if nd.Wake > 0 {
			if j.Wake == nil {
				j.Wake = map[string]int64{}
			}
			j.Wake[key] = nd.Wake
		}
		if nd.Cached {
			j.Cached = append(j.Cached, int32(i))
		}
		if nd.Message != "" || len(nd.Params) > 0 || len(nd.Artifacts) > 0 || nd.Items != nil || nd.ItemArtifacts != nil {
			if j.Details == nil {
				j.Details = map[string]*nodeDetails{}
			}
			j.Details[key] = &nodeDetails{Message: nd.Message, Params: nd.Params, Artifacts: nd.Artifacts, Items: nd.Items, ItemArtifacts: nd.ItemArtifacts}
		}
	}
	j.Phases = string(phases)
	// Runs of equal parents, then runs of runs whose parent grows by one.
	type run struct{ parent, length int32 }
	var runs []run
	for i := 1; i < n; i++ {
		p := s.Nodes[i].Parent
		if len(runs) > 0 && runs[len(runs)-1].parent == p {
			runs[len(runs)-1].length++
			continue
		}
		runs = append(runs, run{p, 1})
	}
	for k := 0; k < len(runs); {
		r := runs[k]
		rep := int32(1)
		for k+int(rep) < len(runs) && runs[k+int(rep)].parent == r.parent+rep && runs[k+int(rep)].length == r.length {
			rep++
		}
		j.Parents = append(j.Parents, r.parent, r.length, rep)
		k += int(rep)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decoding engine state: %w", err)
	}
	n := len(j.Phases)
	if len(j.Begin) != n || len(j.Dur) != n || len(j.Parents)%3 != 0 {
		return fmt.Errorf("decoding engine state: columns do not match %d nodes", n)
	}
	*s = State{RunID: j.RunID, RunUID: j.RunUID, Start: j.Start, Phase: j.Phase, Message: j.Message, Params: j.Params, Inputs: j.Inputs, CancelRequested: j.Cancel, Nodes: make([]Node, n)}
	var begin int64
	for i := range s.Nodes {
		p := strings.IndexByte(phaseCodes, j.Phases[i])
		if p < 0 {
			return fmt.Errorf("decoding engine state: node %d has unknown phase %q", i, j.Phases[i])
		}
		begin += j.Begin[i]
		nd := Node{Parent: -1, Task: -1, Iter: -1, First: -1, Phase: Phase(p), Begin: begin}
		if j.Dur[i] > 0 {
			nd.End = begin + j.Dur[i] - 1
		}
		nd.Attempt = inferredAttempt(nd.Phase)
		s.Nodes[i] = nd
	}
	next := 1
	for k := 0; k < len(j.Parents); k += 3 {
		parent, length, rep := j.Parents[k], j.Parents[k+1], j.Parents[k+2]
		for r := int32(0); r < rep; r++ {
			for l := int32(0); l < length; l++ {
				if next >= n || parent+r < 0 || int(parent+r) >= next {
					return fmt.Errorf("decoding engine state: bad parent run at node %d", next)
				}
				s.Nodes[next].Parent = parent + r
				next++
			}
		}
	}
	if next != n && n > 0 {
		return fmt.Errorf("decoding engine state: parents cover %d of %d nodes", next, n)
	}
	loops := map[int32]bool{}
	for _, l := range j.Loops {
		loops[l] = true
	}
	for i := 1; i < n; i++ {
		nd := &s.Nodes[i]
		par := &s.Nodes[nd.Parent]
		if par.First < 0 {
			par.First = int32(i)
		}
		par.Count++
		if loops[nd.Parent] {
			nd.Iter = int32(i) - par.First
		} else {
			nd.Task = int32(i) - par.First
		}
	}
	for k, v := range j.Attempt {
		i, err := nodeKey(k, n)
		if err != nil {
			return err
		}
		s.Nodes[i].Attempt = v
	}
	for k, v := range j.Wake {
		i, err := nodeKey(k, n)
		if err != nil {
			return err
		}
		s.Nodes[i].Wake = v
	}
	for _, i := range j.Cached {
		if int(i) >= n || i < 0 {
			return fmt.Errorf("decoding engine state: cached node %d out of range", i)
		}
		s.Nodes[i].Cached = true
	}
	for k, d := range j.Details {
		i, err := nodeKey(k, n)
		if err != nil {
			return err
		}
		nd := &s.Nodes[i]
		nd.Message, nd.Params, nd.Artifacts, nd.Items, nd.ItemArtifacts = d.Message, d.Params, d.Artifacts, d.Items, d.ItemArtifacts
	}
	return nil
}

func nodeKey(k string, n int) (int, error) {
	i, err := strconv.Atoi(k)
	if err != nil || i < 0 || i >= n {
		return 0, fmt.Errorf("decoding engine state: bad node key %q", k)
	}
	return i, nil
}

// inferredAttempt is the attempt count the compact form leaves out: one
// for a node that has run (DAG and loop nodes count as one attempt), zero
// otherwise. Only the exceptions (retries, cancelled attempts) are stored.
func inferredAttempt(p Phase) int32 {
	switch p {
	case Running, Waiting, Succeeded, Failed:
		return 1
	}
	return 0
}
