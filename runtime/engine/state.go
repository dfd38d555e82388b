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
	// Start is the run's start time in Unix milliseconds.
	Start int64
	// Phase is the run's state.
	Phase RunPhase
	// Message explains a failed run.
	Message string
	// Params are the run's bound parameters.
	Params map[string]any
	// CancelRequested is set once a cancel arrived.
	CancelRequested bool
	// Nodes are all instances; Nodes[0] is the root DAG.
	Nodes []Node

	// running counts container nodes in flight, rebuilt on load.
	running int
	indexed bool
}

// Clone returns a deep enough copy for callers that keep the previous state.
func (s *State) Clone() *State {
	c := *s
	c.Nodes = append([]Node(nil), s.Nodes...)
	return &c
}

type stateJSON struct {
	RunID    string                  `json:"run"`
	Start    int64                   `json:"start"`
	Phase    RunPhase                `json:"phase"`
	Message  string                  `json:"msg,omitempty"`
	Params   map[string]any          `json:"params,omitempty"`
	Cancel   bool                    `json:"cancel,omitempty"`
	Phases   string                  `json:"p"`
	Parent   []int32                 `json:"parent"`
	Task     []int32                 `json:"task"`
	Iter     map[string]int32        `json:"iter,omitempty"`
	First    map[string][2]int32     `json:"children,omitempty"`
	Attempt  map[string]int32        `json:"attempt,omitempty"`
	Begin    []int64                 `json:"begin"`
	Duration []int64                 `json:"dur"`
	Wake     map[string]int64        `json:"wake,omitempty"`
	Cached   []int32                 `json:"cached,omitempty"`
	Details  map[string]*nodeDetails `json:"details,omitempty"`
}

type nodeDetails struct {
	Message       string                `json:"msg,omitempty"`
	Params        map[string]any        `json:"params,omitempty"`
	Artifacts     map[string][]Artifact `json:"artifacts,omitempty"`
	Items         []any                 `json:"items,omitempty"`
	ItemArtifacts []Artifact            `json:"itemArtifacts,omitempty"`
}

// MarshalJSON writes the columnar form: one string of phase letters and
// dense integer arrays for the fields every node has; sparse maps keyed by
// node index for the rest.
func (s *State) MarshalJSON() ([]byte, error) {
	n := len(s.Nodes)
	j := stateJSON{
		RunID: s.RunID, Start: s.Start, Phase: s.Phase, Message: s.Message, Params: s.Params, Cancel: s.CancelRequested,
		Parent: make([]int32, n), Task: make([]int32, n), Begin: make([]int64, n), Duration: make([]int64, n),
	}
	phases := make([]byte, n)
	for i := range s.Nodes {
		nd := &s.Nodes[i]
		key := strconv.Itoa(i)
		phases[i] = phaseCodes[nd.Phase]
		j.Parent[i], j.Task[i], j.Begin[i] = nd.Parent, nd.Task, nd.Begin
		if nd.End > 0 {
			j.Duration[i] = nd.End - nd.Begin
		}
		if nd.Iter >= 0 {
			if j.Iter == nil {
				j.Iter = map[string]int32{}
			}
			j.Iter[key] = nd.Iter
		}
		if nd.First >= 0 {
			if j.First == nil {
				j.First = map[string][2]int32{}
			}
			j.First[key] = [2]int32{nd.First, nd.Count}
		}
		if nd.Attempt != inferredAttempt(nd.Begin, nd.End) {
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
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	n := len(j.Phases)
	if len(j.Parent) != n || len(j.Task) != n || len(j.Begin) != n || len(j.Duration) != n {
		return fmt.Errorf("decoding engine state: column lengths differ (%d nodes)", n)
	}
	*s = State{RunID: j.RunID, Start: j.Start, Phase: j.Phase, Message: j.Message, Params: j.Params, CancelRequested: j.Cancel, Nodes: make([]Node, n)}
	for i := range s.Nodes {
		p := strings.IndexByte(phaseCodes, j.Phases[i])
		if p < 0 {
			return fmt.Errorf("decoding engine state: node %d has unknown phase %q", i, j.Phases[i])
		}
		nd := Node{Parent: j.Parent[i], Task: j.Task[i], Iter: -1, First: -1, Phase: Phase(p), Attempt: 0, Begin: j.Begin[i]}
		if j.Duration[i] > 0 {
			nd.End = nd.Begin + j.Duration[i]
		}
		s.Nodes[i] = nd
	}
	for k, v := range j.Iter {
		i, err := nodeKey(k, n)
		if err != nil {
			return err
		}
		s.Nodes[i].Iter = v
	}
	for k, v := range j.First {
		i, err := nodeKey(k, n)
		if err != nil {
			return err
		}
		s.Nodes[i].First, s.Nodes[i].Count = v[0], v[1]
	}
	for i := range s.Nodes {
		s.Nodes[i].Attempt = inferredAttempt(s.Nodes[i].Begin, s.Nodes[i].End)
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

// reindex rebuilds the counters that are not serialised.
func (s *State) reindex(isContainer func(i int) bool) {
	s.running = 0
	for i := range s.Nodes {
		if s.Nodes[i].Phase == Running && isContainer(i) {
			s.running++
		}
	}
	s.indexed = true
}

// inferredAttempt is the attempt count the compact form leaves out: one
// for a node that has started, zero otherwise.
func inferredAttempt(begin, end int64) int32 {
	if begin > 0 || end > 0 {
		return 1
	}
	return 0
}
