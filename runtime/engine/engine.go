package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// Options tune an Engine.
type Options struct {
	// MaxParallel caps the container tasks running at once in the run
	// (0: no cap).
	MaxParallel int
	// PipelineRoot is substituted for `{{$.pipeline_root}}` in constants.
	PipelineRoot string
	// WorkspacePath is substituted for `{{$.workspace_path}}` in constants:
	// where the run's workspace is for its tasks (a directory of the local
	// executor, the mount path in pods).
	WorkspacePath string
	// DryRun makes the engine accept symbolic values (outputs that do not
	// exist yet): conditions are taken as true, a loop over an unknown list
	// gets one symbolic iteration, and type checks of such values are
	// skipped. Used to print a pipeline's graph without running it.
	DryRun bool
}

// Engine advances runs of one pipeline. It holds no run state: every call
// receives the State, so one Engine serves any number of runs.
type Engine struct {
	plan *pipeline.Plan
	opts Options
}

// New returns an engine for plan.
func New(plan *pipeline.Plan, opts Options) *Engine {
	return &Engine{plan: plan, opts: opts}
}

// Plan returns the pipeline the engine runs.
func (e *Engine) Plan() *pipeline.Plan { return e.plan }

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	// TaskFinished reports the end of a task attempt.
	TaskFinished EventKind = iota + 1
	// CancelRun asks the engine to stop the run.
	CancelRun
)

// Event is something an executor or a user reports to the engine.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Node is the node the attempt belongs to.
	Node int32
	// Attempt is the attempt number from the StartTask action; results of
	// older attempts (after a timeout) are ignored.
	Attempt int32
	// Succeeded is the attempt's outcome.
	Succeeded bool
	// Cached marks a result served from the cache.
	Cached bool
	// Params are the task's output parameters.
	Params map[string]any
	// Artifacts are the task's output artifacts.
	Artifacts map[string][]Artifact
	// Message explains a failure (with the log tail when there is one).
	Message string
	// Notes say how the attempt ran (which kfp a Python component used,
	// settings the executor could not honour); the engine ignores them,
	// callers report them.
	Notes []string
}

// ActionKind says what the engine wants done.
type ActionKind int

// Action kinds.
const (
	// StartTask asks the executor to run one attempt.
	StartTask ActionKind = iota + 1
	// CancelTask asks the executor to stop an attempt.
	CancelTask
)

// Action is a request to the executor.
type Action struct {
	// Kind is what to do.
	Kind ActionKind
	// Node is the node the attempt belongs to.
	Node int32
	// Attempt is the attempt number (1-based).
	Attempt int32
	// Task describes what to run (StartTask only).
	Task *TaskRun
}

// TaskRun is everything an executor needs to run one attempt.
type TaskRun struct {
	// RunID is the run's name.
	RunID string
	// RunUID is the run's unique ID (State.RunUID).
	RunUID string
	// RunStart is when the run started.
	RunStart time.Time
	// PipelineName is the pipeline's name.
	PipelineName string
	// Path names the node uniquely in the run, e.g. "for-loop-1[2]/train".
	Path string
	// Name is the task's name.
	Name string
	// Task is the compiled task.
	Task *pipeline.Task
	// Component is the task's component (an executor component).
	Component *pipeline.Component
	// Params are the resolved input parameters.
	Params map[string]any
	// Artifacts are the resolved input artifacts.
	Artifacts map[string][]Artifact
	// CacheKey is set when caching is on: equal keys mean equal results.
	CacheKey string
	// Timeout bounds the attempt (0: none); the engine also enforces it.
	Timeout time.Duration
	// Placement is where and with what resources it runs, resolved.
	Placement pipeline.Placement
	// Pod is the task's kfp-kubernetes config, resolved (nil: none).
	Pod *pipeline.PodConfig
}

// RunDir is the run's directory under the pipeline root: its UID, or its
// name for runs without one. A run made again under the same name never
// shares a directory with its predecessor.
func (t *TaskRun) RunDir() string { return RunDir(t.RunID, t.RunUID) }

// RunDir is the directory of the run named runID with the unique ID runUID
// (empty: none) under the pipeline root.
func RunDir(runID, runUID string) string {
	if runUID != "" {
		return runUID
	}
	return runID
}

// Change records a node's phase change, for progress output.
type Change struct {
	// Node is the node; Engine.Path names it.
	Node int32
	// Phase is its new phase.
	Phase Phase
	// Cached is set for cache hits.
	Cached bool
	// Attempt is the node's attempt count.
	Attempt int32
	// Message explains failures and skips.
	Message string
}

// Result is what one Step produced.
type Result struct {
	// Actions are for the executor, in order.
	Actions []Action
	// Changes are the phase changes, in order.
	Changes []Change
	// WakeAt is when Step must be called again even without events (a retry
	// backoff or a timeout expires); zero when nothing is scheduled.
	WakeAt time.Time
	// Deferred counts the ready tasks StepLimited's cap left unstarted
	// that the run's own parallelism would have started: the caller steps
	// again once it has room for them.
	Deferred int
}

// Start binds the run parameters and returns the initial state; the first
// Step starts the tasks.
func (e *Engine) Start(runID string, params map[string]any, now time.Time) (*State, error) {
	bound, err := e.plan.BindParameters(params)
	if err != nil && e.opts.DryRun {
		bound, err = e.symbolicParameters(bound, err)
	}
	if err != nil {
		return nil, err
	}
	s := &State{RunID: runID, Start: now.UnixMilli(), Phase: RunRunning, Params: bound}
	s.Nodes = append(s.Nodes, Node{Parent: -1, Task: -1, Iter: -1, First: -1})
	return s, nil
}

// StartWithInputs is Start for a pipeline whose root takes input
// artifacts: inputs maps each to its URI.
func (e *Engine) StartWithInputs(runID string, params map[string]any, inputs map[string]string, now time.Time) (*State, error) {
	s, err := e.Start(runID, params, now)
	if err != nil {
		return nil, err
	}
	var errs pipeline.ErrorList
	for _, name := range sortedNames(inputs) {
		def, ok := e.plan.Root.Inputs.Artifacts[name]
		if !ok {
			errs = append(errs, &pipeline.FieldError{Field: fmt.Sprintf("artifacts[%q]", name), Err: fmt.Errorf("the pipeline has no input artifact %q", name)})
			continue
		}
		if s.Inputs == nil {
			s.Inputs = map[string][]Artifact{}
		}
		s.Inputs[name] = []Artifact{{Name: name, URI: inputs[name], SchemaTitle: def.ArtifactType.SchemaTitle}}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// symbolicParameters lets a dry run go ahead without values for required
// parameters: each shows as {{name}} in the printed commands. Any other
// binding error still stops it.
func (e *Engine) symbolicParameters(bound map[string]any, bindErr error) (map[string]any, error) {
	for _, fe := range pipeline.AsErrorList(bindErr) {
		if !errors.Is(fe, pipeline.ErrMissingParameter) {
			return nil, bindErr
		}
	}
	for name, def := range e.plan.Root.Inputs.Parameters {
		if _, ok := bound[name]; !ok && def.DefaultValue == nil && !def.IsOptional {
			bound[name] = "{{" + name + "}}"
		}
	}
	return bound, nil
}

// stepper carries one Step's bookkeeping.
type stepper struct {
	e         *Engine
	s         *State
	ix        *index
	now       int64
	res       *Result
	cancelNow bool    // a cancel arrived in this step
	starts    int     // StartTask actions this step may still emit (negative: any)
	work      []int32 // pending nodes whose dependencies may be done
	finish    []int32 // DAG and loop nodes whose children may all be done
	loops     []int32 // loops that may start more iterations
	scopes    map[int32]*scope
}

// index is derived from the State and rebuilt after loading one, so that
// each Step costs time in proportion to what changed, not to the run's
// size.
type index struct {
	running   int
	waiting   map[int32]int32 // pending DAG children: unfinished dependencies
	remaining map[int32]int32 // running DAG and loop nodes: unfinished children
	cursor    map[int32]int32 // running loops: next iteration to start
	ready     []int32         // ready container nodes, oldest first
	timers    map[int32]bool  // waiting nodes and running nodes with a timeout
	users     map[*pipeline.DAG][][]int
}

// Step applies events, advances every node that can move and returns the
// actions for the executor. It is deterministic: the same state, time and
// events give the same result; s is updated in place (Clone it first to
// keep the old one).
func (e *Engine) Step(s *State, now time.Time, events ...Event) Result {
	return e.StepLimited(s, now, -1, events...)
}

// StepLimited is Step with a cap on the tasks it starts: at most maxStarts
// StartTask actions (negative: no cap). It serves a budget shared beyond
// the run, such as a controller's limit of running tasks across runs:
// ready tasks beyond the cap stay Ready, Result.Deferred counts them, and
// a later step starts them, oldest first. A step with maxStarts 0 applies
// the events and tells how many tasks could start.
func (e *Engine) StepLimited(s *State, now time.Time, maxStarts int, events ...Event) Result {
	st := &stepper{e: e, s: s, now: now.UnixMilli() - s.Start, res: &Result{}, scopes: map[int32]*scope{}, starts: maxStarts}
	if s.idx == nil {
		s.idx = e.buildIndex(s, st)
	}
	st.ix = s.idx
	if len(s.Nodes) > 0 && s.Nodes[0].Phase == Pending {
		st.startDAG(0)
	}
	for _, ev := range events {
		st.apply(ev)
	}
	if st.cancelNow {
		st.cancelAll()
	}
	st.expireTimers()
	st.settle()
	st.launch()
	st.finishRun()
	st.res.WakeAt = st.nextWake()
	return *st.res
}

// buildIndex derives the index from a state (a new one, or one loaded from
// storage).
func (e *Engine) buildIndex(s *State, st *stepper) *index {
	ix := &index{waiting: map[int32]int32{}, remaining: map[int32]int32{}, cursor: map[int32]int32{}, timers: map[int32]bool{}, users: map[*pipeline.DAG][][]int{}}
	st.ix = ix
	for i := range s.Nodes {
		n := &s.Nodes[i]
		id := int32(i)
		switch n.Phase {
		case Ready:
			ix.ready = append(ix.ready, id)
		case Waiting:
			ix.timers[id] = true
		case Running:
			if e.isContainer(s, id) {
				ix.running++
				if e.task(s, id).Timeout > 0 {
					ix.timers[id] = true
				}
			}
		}
		if n.Phase != Running || n.First < 0 {
			continue
		}
		rem := int32(0)
		for k := int32(0); k < n.Count; k++ {
			if !s.Nodes[n.First+k].Phase.Terminal() {
				rem++
			}
		}
		ix.remaining[id] = rem
		if e.isLoop(s, id) {
			c := n.Count
			for k := int32(0); k < n.Count; k++ {
				if s.Nodes[n.First+k].Phase == Pending {
					c = k
					break
				}
			}
			ix.cursor[id] = c
			st.loops = append(st.loops, id)
			continue
		}
		dag := e.dagOf(s, id)
		for k := int32(0); k < n.Count; k++ {
			c := n.First + k
			if s.Nodes[c].Phase != Pending {
				continue
			}
			w := int32(0)
			for _, d := range dag.Tasks[k].Deps {
				if !s.Nodes[n.First+int32(d)].Phase.Terminal() {
					w++
				}
			}
			ix.waiting[c] = w
			if w == 0 {
				st.work = append(st.work, c)
			}
		}
		if rem == 0 {
			st.finish = append(st.finish, id)
		}
	}
	return ix
}

// usersOf returns, for each task of dag, the tasks that depend on it.
func (ix *index) usersOf(dag *pipeline.DAG) [][]int {
	if u, ok := ix.users[dag]; ok {
		return u
	}
	u := make([][]int, len(dag.Tasks))
	for _, t := range dag.Tasks {
		for _, d := range t.Deps {
			u[d] = append(u[d], t.Index)
		}
	}
	ix.users[dag] = u
	return u
}

func (st *stepper) setPhase(i int32, p Phase, msg string) {
	s, ix := st.s, st.ix
	n := &s.Nodes[i]
	old := n.Phase
	container := st.e.isContainer(s, i)
	if old == Running && container {
		ix.running--
	}
	if p == Running && container {
		ix.running++
	}
	delete(ix.timers, i)
	if p == Waiting || (p == Running && container && st.e.task(s, i).Timeout > 0) {
		ix.timers[i] = true
	}
	if p == Ready {
		ix.ready = append(ix.ready, i)
	}
	n.Phase = p
	if msg != "" {
		n.Message = msg
	}
	if p == Running && old == Pending {
		n.Begin = st.now
		n.Attempt = 1 // a DAG or loop runs once; containers count in launch
	}
	if p.Terminal() {
		n.End = st.now
		if old == Pending {
			n.Begin = st.now
			if p == Succeeded {
				n.Attempt = 1 // an importer
			}
		}
		delete(ix.waiting, i)
		delete(ix.remaining, i)
		delete(ix.cursor, i)
		st.terminated(i)
	}
	st.res.Changes = append(st.res.Changes, Change{Node: i, Phase: p, Cached: n.Cached, Attempt: n.Attempt, Message: n.Message})
}

// terminated updates the parent's counters when node i is done.
func (st *stepper) terminated(i int32) {
	s, ix := st.s, st.ix
	p := s.Nodes[i].Parent
	if p < 0 {
		return
	}
	ix.remaining[p]--
	if ix.remaining[p] <= 0 {
		st.finish = append(st.finish, p)
	}
	if st.e.isLoop(s, p) {
		st.loops = append(st.loops, p)
		return
	}
	dag := st.e.dagOf(s, p)
	first := s.Nodes[p].First
	for _, u := range ix.usersOf(dag)[s.Nodes[i].Task] {
		c := first + int32(u)
		if w, ok := ix.waiting[c]; ok {
			ix.waiting[c] = w - 1
			if w-1 <= 0 {
				st.work = append(st.work, c)
			}
		}
	}
}

func (st *stepper) apply(ev Event) {
	s := st.s
	switch ev.Kind {
	case CancelRun:
		if !s.CancelRequested {
			s.CancelRequested, st.cancelNow = true, true
		}
	case TaskFinished:
		if ev.Node < 0 || int(ev.Node) >= len(s.Nodes) {
			return
		}
		n := &s.Nodes[ev.Node]
		if n.Phase != Running || n.Attempt != ev.Attempt || !st.e.isContainer(s, ev.Node) {
			return // a late report of an attempt that timed out or was cancelled
		}
		if ev.Succeeded {
			n.Params, n.Artifacts, n.Cached = ev.Params, ev.Artifacts, ev.Cached
			n.Message = ""
			st.setPhase(ev.Node, Succeeded, "")
			return
		}
		st.attemptFailed(ev.Node, ev.Message)
	}
}

// attemptFailed retries or fails a container node.
func (st *stepper) attemptFailed(i int32, msg string) {
	n := &st.s.Nodes[i]
	t := st.e.task(st.s, i)
	if int(n.Attempt) <= t.Retry.MaxRetries {
		n.Wake = st.now + t.Retry.Delay(int(n.Attempt)).Milliseconds()
		st.setPhase(i, Waiting, fmt.Sprintf("attempt %d failed: %s", n.Attempt, msg))
		return
	}
	if n.Attempt > 1 {
		msg = fmt.Sprintf("attempt %d of %d failed: %s", n.Attempt, t.Retry.MaxRetries+1, msg)
	}
	st.setPhase(i, Failed, msg)
}

// cancelAll stops the run. Exit handlers (and the DAGs that hold them)
// are spared, as in KFP: they run once their upstream is cancelled and
// receive a CANCELLED final status.
func (st *stepper) cancelAll() {
	s := st.s
	keep := make([]bool, len(s.Nodes))
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Phase.Terminal() {
			continue
		}
		t := st.e.task(s, int32(i))
		keep[i] = (t != nil && t.RunsOnUpstreamFailure && n.Iter < 0) || (n.Parent >= 0 && keep[n.Parent])
	}
	for i := len(s.Nodes) - 1; i > 0; i-- {
		if keep[i] {
			keep[s.Nodes[i].Parent] = true
		}
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Phase.Terminal() || keep[i] {
			continue
		}
		if n.Phase == Running && st.e.isContainer(s, int32(i)) {
			st.res.Actions = append(st.res.Actions, Action{Kind: CancelTask, Node: int32(i), Attempt: n.Attempt})
		}
		st.setPhase(int32(i), Cancelled, "run cancelled")
	}
}

func (st *stepper) expireTimers() {
	s := st.s
	for _, i := range sortedIDs(st.ix.timers) {
		n := &s.Nodes[i]
		switch n.Phase {
		case Waiting:
			if n.Wake <= st.now {
				n.Wake = 0
				st.setPhase(i, Ready, "")
			}
		case Running:
			if t := st.e.task(s, i); t.Timeout > 0 && st.now-n.Begin >= t.Timeout.Milliseconds() {
				st.res.Actions = append(st.res.Actions, Action{Kind: CancelTask, Node: i, Attempt: n.Attempt})
				st.attemptFailed(i, fmt.Sprintf("timed out after %s", t.Timeout))
			}
		}
	}
}

func (st *stepper) nextWake() time.Time {
	s := st.s
	var wake int64
	for i := range st.ix.timers {
		n := &s.Nodes[i]
		var at int64
		switch n.Phase {
		case Waiting:
			at = n.Wake
		case Running:
			at = n.Begin + st.e.task(s, i).Timeout.Milliseconds()
		}
		if wake == 0 || at < wake {
			wake = at
		}
	}
	if len(st.ix.timers) == 0 {
		return time.Time{}
	}
	return time.UnixMilli(s.Start + wake)
}

// settle advances nodes until nothing moves.
func (st *stepper) settle() {
	for len(st.work) > 0 || len(st.finish) > 0 || len(st.loops) > 0 {
		switch {
		case len(st.work) > 0:
			c := st.work[0]
			st.work = st.work[1:]
			if st.s.Nodes[c].Phase == Pending && st.ix.waiting[c] <= 0 {
				delete(st.ix.waiting, c)
				st.tryStart(c, st.e.task(st.s, c))
			}
		case len(st.loops) > 0:
			l := st.loops[0]
			st.loops = st.loops[1:]
			st.advanceLoop(l)
		default:
			d := st.finish[0]
			st.finish = st.finish[1:]
			if n := &st.s.Nodes[d]; n.Phase == Running && st.ix.remaining[d] <= 0 {
				if st.e.isLoop(st.s, d) {
					st.finishLoop(d)
				} else {
					st.finishDAG(d, st.e.dagOf(st.s, d))
				}
			}
		}
	}
}

// launch starts ready container nodes, oldest first, while slots are free.
func (st *stepper) launch() {
	s, ix := st.s, st.ix
	for len(ix.ready) > 0 {
		if st.e.opts.MaxParallel > 0 && ix.running >= st.e.opts.MaxParallel {
			break
		}
		if st.starts == 0 {
			st.res.Deferred = st.deferred()
			break
		}
		i := ix.ready[0]
		ix.ready = ix.ready[1:]
		if s.Nodes[i].Phase != Ready {
			continue
		}
		run, err := st.taskRun(i)
		if err != nil {
			st.setPhase(i, Failed, err.Error())
			st.settle()
			continue
		}
		n := &s.Nodes[i]
		n.Attempt++
		n.Begin = st.now
		st.setPhase(i, Running, "")
		n = &s.Nodes[i]
		st.res.Actions = append(st.res.Actions, Action{Kind: StartTask, Node: i, Attempt: n.Attempt, Task: run})
		if st.starts > 0 {
			st.starts--
		}
	}
}

// deferred counts the ready nodes the run's own parallelism would let
// start now.
func (st *stepper) deferred() int {
	ix := st.ix
	room := len(ix.ready)
	if p := st.e.opts.MaxParallel; p > 0 {
		room = min(room, p-ix.running)
	}
	n := 0
	for _, i := range ix.ready {
		if n >= room {
			break
		}
		if st.s.Nodes[i].Phase == Ready {
			n++
		}
	}
	return n
}

func (st *stepper) finishRun() {
	s := st.s
	if len(s.Nodes) == 0 || s.Phase != RunRunning {
		return
	}
	root := &s.Nodes[0]
	if s.CancelRequested && root.Phase.Terminal() {
		s.Phase, s.Message = RunCancelled, "run cancelled"
		return
	}
	switch root.Phase {
	case Succeeded, Skipped:
		s.Phase = RunSucceeded
	case Failed:
		s.Phase, s.Message = RunFailed, root.Message
	case Cancelled:
		s.Phase, s.Message = RunCancelled, "run cancelled"
	}
}

// expand appends count children to node i.
func (st *stepper) expand(i int32, count int, mk func(k int) Node) {
	s := st.s
	first := int32(len(s.Nodes))
	for k := 0; k < count; k++ {
		s.Nodes = append(s.Nodes, mk(k))
	}
	s.Nodes[i].First, s.Nodes[i].Count = first, int32(count)
	st.ix.remaining[i] = int32(count)
	if count == 0 {
		st.finish = append(st.finish, i)
	}
}

// startDAG creates the children of a DAG or iteration node and runs it.
func (st *stepper) startDAG(i int32) {
	dag := st.e.dagOf(st.s, i)
	st.expand(i, len(dag.Tasks), func(k int) Node {
		return Node{Parent: i, Task: int32(k), Iter: -1, First: -1}
	})
	first := st.s.Nodes[i].First
	for k, t := range dag.Tasks {
		c := first + int32(k)
		st.ix.waiting[c] = int32(len(t.Deps))
		if len(t.Deps) == 0 {
			st.work = append(st.work, c)
		}
	}
	st.setPhase(i, Running, "")
}

// advanceLoop starts iterations while the parallelism limit allows.
func (st *stepper) advanceLoop(i int32) {
	s, ix := st.s, st.ix
	n := &s.Nodes[i]
	if n.Phase != Running {
		return
	}
	limit := int32(st.e.task(s, i).Loop.ParallelismLimit)
	for {
		cur := ix.cursor[i]
		if cur >= n.Count {
			return
		}
		running := cur - (n.Count - ix.remaining[i])
		if limit > 0 && running >= limit {
			return
		}
		ix.cursor[i] = cur + 1
		st.startDAG(n.First + cur)
		n = &s.Nodes[i]
	}
}

// blocked reports whether a dependency ended in a way that stops its
// dependants (unless they are exit handlers).
func blocked(n *Node) bool {
	return n.Phase == Failed || n.Phase == Cancelled || (n.Phase == Skipped && strings.HasPrefix(n.Message, upstreamPrefix))
}

const upstreamPrefix = "upstream "

// tryStart starts a pending task node of a DAG whose dependencies are done.
func (st *stepper) tryStart(c int32, t *pipeline.Task) {
	s := st.s
	parent := s.Nodes[c].Parent
	first := s.Nodes[parent].First
	if !t.RunsOnUpstreamFailure {
		for _, d := range t.Deps {
			if dn := &s.Nodes[first+int32(d)]; blocked(dn) {
				st.setPhase(c, Skipped, fmt.Sprintf("%stask %q did not succeed", upstreamPrefix, st.e.dagOf(s, parent).Tasks[d].Name))
				return
			}
		}
	}
	params, arts, err := st.resolve(parent, t)
	if err != nil {
		var miss *missingInput
		if errors.As(err, &miss) {
			st.setPhase(c, Skipped, err.Error())
		} else {
			st.setPhase(c, Failed, fmt.Sprintf("resolving inputs: %v", err))
		}
		return
	}
	if t.Condition != nil && !st.e.opts.DryRun {
		ok, err := pipeline.EvalCondition(t.Condition, params)
		if err != nil {
			st.setPhase(c, Failed, err.Error())
			return
		}
		if !ok {
			st.setPhase(c, Skipped, "condition is false: "+t.ConditionText)
			return
		}
	}
	comp := t.Component
	switch {
	case t.Loop != nil:
		st.startLoop(c, t, params, arts)
	case comp.DAG != nil:
		st.startDAG(c)
	case comp.Executor != nil && comp.Executor.Importer != nil:
		st.runImporter(c, comp, params)
	default:
		st.setPhase(c, Ready, "")
	}
}

func (st *stepper) startLoop(c int32, t *pipeline.Task, params map[string]any, arts map[string][]Artifact) {
	s := st.s
	var count int
	switch {
	case t.Loop.InputArtifact != "":
		s.Nodes[c].ItemArtifacts = arts[t.Loop.InputArtifact]
		count = len(s.Nodes[c].ItemArtifacts)
	case t.Loop.Raw != nil:
		// Literal items stay in the plan; the state does not repeat them.
		count = len(t.Loop.Raw)
	default:
		v := params[t.Loop.InputParameter]
		list, ok := v.([]any)
		if !ok {
			if s2, isStr := v.(string); isStr && st.e.opts.DryRun {
				list = []any{s2 + "[*]"}
			} else if isStr {
				if err := json.Unmarshal([]byte(s2), &list); err != nil {
					st.setPhase(c, Failed, fmt.Sprintf("loop items %q are not a list", t.Loop.InputParameter))
					return
				}
			} else {
				st.setPhase(c, Failed, fmt.Sprintf("loop items %q are not a list", t.Loop.InputParameter))
				return
			}
		}
		s.Nodes[c].Items = list
		count = len(list)
	}
	st.expand(c, count, func(k int) Node { return Node{Parent: c, Task: -1, Iter: int32(k), First: -1} })
	st.ix.cursor[c] = 0
	st.setPhase(c, Running, "")
	st.loops = append(st.loops, c)
}

func (st *stepper) runImporter(c int32, comp *pipeline.Component, params map[string]any) {
	im := comp.Executor.Importer
	uri := im.ArtifactURI.Constant
	if p := im.ArtifactURI.RuntimeParameter; p != "" {
		uri = pipeline.FormatParameter(params[p])
	}
	var key string
	for k := range comp.Outputs.Artifacts {
		key = k
	}
	n := &st.s.Nodes[c]
	n.Artifacts = map[string][]Artifact{key: {{Name: key, URI: uri, SchemaTitle: im.TypeSchema.SchemaTitle, Metadata: im.Metadata}}}
	st.setPhase(c, Succeeded, "")
}

func (st *stepper) finishDAG(i int32, dag *pipeline.DAG) {
	s := st.s
	n := &s.Nodes[i]
	for k := int32(0); k < n.Count; k++ {
		c := &s.Nodes[n.First+k]
		if c.Phase == Failed || c.Phase == Cancelled {
			st.setPhase(i, Failed, fmt.Sprintf("task %q failed: %s", st.e.Path(s, n.First+k), c.Message))
			return
		}
	}
	if dag.Outputs != nil {
		n.Params, n.Artifacts = map[string]any{}, map[string][]Artifact{}
		child := func(name string) *Node {
			if t := dag.Task(name); t != nil {
				if c := &s.Nodes[n.First+int32(t.Index)]; c.Phase == Succeeded {
					return c
				}
			}
			return nil
		}
		for name, o := range dag.Outputs.Parameters {
			var sels []*pipeline.OutputSelector
			if o.ValueFromParameter != nil {
				sels = []*pipeline.OutputSelector{o.ValueFromParameter}
			} else if o.ValueFromOneof != nil {
				sels = o.ValueFromOneof.ParameterSelectors
			}
			for _, sel := range sels {
				if c := child(sel.ProducerSubtask); c != nil {
					if v, ok := c.Params[sel.OutputParameterKey]; ok {
						n.Params[name] = v
						break
					}
				}
			}
		}
		for name, o := range dag.Outputs.Artifacts {
			for _, sel := range o.ArtifactSelectors {
				if c := child(sel.ProducerSubtask); c != nil {
					n.Artifacts[name] = append(n.Artifacts[name], c.Artifacts[sel.OutputArtifactKey]...)
				}
			}
		}
	}
	st.setPhase(i, Succeeded, "")
}

// finishLoop collects the iterations' outputs into lists, in iteration order.
func (st *stepper) finishLoop(i int32) {
	s := st.s
	n := &s.Nodes[i]
	params := map[string]any{}
	arts := map[string][]Artifact{}
	for k := int32(0); k < n.Count; k++ {
		c := &s.Nodes[n.First+k]
		if c.Phase == Failed || c.Phase == Cancelled {
			st.setPhase(i, Failed, fmt.Sprintf("iteration %d failed: %s", k, c.Message))
			return
		}
		for key, v := range c.Params {
			l, _ := params[key].([]any)
			params[key] = append(l, v)
		}
		for key, v := range c.Artifacts {
			arts[key] = append(arts[key], v...)
		}
	}
	// Every declared output exists, as an empty list when no iteration ran.
	if t := st.e.task(s, i); t != nil && t.Component.DAG != nil && t.Component.DAG.Outputs != nil {
		for key := range t.Component.DAG.Outputs.Parameters {
			if _, ok := params[key]; !ok {
				params[key] = []any{}
			}
		}
	}
	if len(params) > 0 {
		n.Params = params
	}
	if len(arts) > 0 {
		n.Artifacts = arts
	}
	st.setPhase(i, Succeeded, "")
}

func sortedIDs(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// taskRun builds the StartTask payload of container node i.
func (st *stepper) taskRun(i int32) (*TaskRun, error) {
	s := st.s
	t := st.e.task(s, i)
	params, arts, err := st.resolve(s.Nodes[i].Parent, t)
	if err != nil {
		return nil, fmt.Errorf("resolving inputs: %w", err)
	}
	run := &TaskRun{
		RunID: s.RunID, RunUID: s.RunUID, RunStart: time.UnixMilli(s.Start).UTC(), PipelineName: st.e.plan.Name,
		Path: st.e.Path(s, i), Name: t.Name, Task: t, Component: t.Component,
		Params: params, Artifacts: arts, Timeout: t.Timeout,
	}
	if run.Placement, err = pipeline.TaskPlacement(t, params); err != nil && !st.e.opts.DryRun {
		return nil, err
	}
	if run.Pod, err = st.podConfig(s.Nodes[i].Parent, t); err != nil {
		return nil, fmt.Errorf("kubernetes config: %w", err)
	}
	for name, def := range t.Component.Inputs.Parameters {
		if def.ParameterType == pipeline.TypeTaskConfig {
			// The runtime injects the task's own configuration, for a
			// component that starts another workload with it.
			params[name] = taskConfig(run)
		}
	}
	// A secret input is a reference here: its key could not tell one
	// secret value from another, so such a task never caches.
	if t.Cache && !pipeline.HoldsSecret(params) {
		run.CacheKey = cacheKey(t.Component, params, arts)
		if co := t.Spec.CachingOptions; co != nil && co.CacheKey != "" {
			// A key set in the spec replaces the computed one, as in KFP.
			run.CacheKey = co.CacheKey
		}
	}
	return run, nil
}

// taskConfig is the TASK_CONFIG value of a task: its resources,
// environment and Kubernetes placement, in the shape KFP's TaskConfig reads.
func taskConfig(run *TaskRun) map[string]any {
	out := map[string]any{}
	pl := run.Placement
	limits, requests := map[string]any{}, map[string]any{}
	if pl.CPU != "" {
		limits["cpu"] = pl.CPU
	}
	if pl.Memory != "" {
		limits["memory"] = pl.Memory
	}
	if pl.CPURequest != "" {
		requests["cpu"] = pl.CPURequest
	}
	if pl.MemoryRequest != "" {
		requests["memory"] = pl.MemoryRequest
	}
	if pl.AcceleratorCount > 0 {
		limits[pl.AcceleratorType] = float64(pl.AcceleratorCount)
	}
	if len(limits)+len(requests) > 0 {
		out["resources"] = map[string]any{"limits": limits, "requests": requests}
	}
	if ex := run.Component.Executor; ex != nil && ex.Container != nil && len(ex.Container.Env) > 0 {
		var env []any
		for _, e := range ex.Container.Env {
			env = append(env, map[string]any{"name": e.Name, "value": e.Value})
		}
		out["env"] = env
	}
	if p := run.Pod; p != nil {
		if len(p.NodeSelector) > 0 {
			sel := map[string]any{}
			for k, v := range p.NodeSelector {
				sel[k] = v
			}
			out["nodeSelector"] = sel
		}
		if len(p.Tolerations) > 0 {
			var tols []any
			for _, t := range p.Tolerations {
				tols = append(tols, t)
			}
			out["tolerations"] = tols
		}
	}
	return out
}

// CacheKey returns the cache key container node i runs under, as its
// StartTask action carried it: "" when the task does not cache or its
// inputs do not resolve. The inputs are resolved again from the state;
// they come from finished nodes, which do not change, so a caller can
// store a result under the key once the attempt succeeded.
func (e *Engine) CacheKey(s *State, i int32) string {
	if i < 0 || int(i) >= len(s.Nodes) || !e.isContainer(s, i) || !e.task(s, i).Cache {
		return ""
	}
	st := &stepper{e: e, s: s, scopes: map[int32]*scope{}}
	run, err := st.taskRun(i)
	if err != nil {
		return ""
	}
	return run.CacheKey
}

// cacheKey hashes the component definition and the resolved inputs;
// encoding/json sorts map keys, so the encoding is canonical.
func cacheKey(c *pipeline.Component, params map[string]any, arts map[string][]Artifact) string {
	h := sha256.New()
	h.Write([]byte(c.Digest))
	enc := json.NewEncoder(h)
	_ = enc.Encode(params)
	uris := map[string][]string{}
	for k, list := range arts {
		for _, a := range list {
			uris[k] = append(uris[k], a.URI)
		}
	}
	_ = enc.Encode(uris)
	return hex.EncodeToString(h.Sum(nil))
}

// Path names node i in the run: task names joined by "/", loop iterations
// as "[k]".
func (e *Engine) Path(s *State, i int32) string {
	var parts []string
	for i > 0 {
		n := &s.Nodes[i]
		switch {
		case n.Iter >= 0:
			parts = append(parts, "["+strconv.Itoa(int(n.Iter))+"]")
		default:
			parts = append(parts, "/"+e.dagOf(s, n.Parent).Tasks[n.Task].Name)
		}
		i = n.Parent
	}
	var b strings.Builder
	for k := len(parts) - 1; k >= 0; k-- {
		b.WriteString(parts[k])
	}
	return strings.TrimPrefix(b.String(), "/")
}

// task returns the compiled task of node i (for an iteration: its loop's task).
func (e *Engine) task(s *State, i int32) *pipeline.Task {
	n := &s.Nodes[i]
	if n.Task < 0 {
		if n.Iter >= 0 {
			return e.task(s, n.Parent)
		}
		return nil
	}
	return e.dagOf(s, n.Parent).Tasks[n.Task]
}

// Task returns the compiled task of node i, or nil for the root.
func (e *Engine) Task(s *State, i int32) *pipeline.Task { return e.task(s, i) }

// dagOf returns the DAG whose tasks are node i's children, or nil.
func (e *Engine) dagOf(s *State, i int32) *pipeline.DAG {
	n := &s.Nodes[i]
	if i == 0 {
		return e.plan.Root.DAG
	}
	t := e.task(s, i)
	if t == nil {
		return nil
	}
	if n.Iter < 0 && t.Loop != nil {
		return nil // the loop node itself: its children are iterations
	}
	return t.Component.DAG
}

func (e *Engine) isLoop(s *State, i int32) bool {
	n := &s.Nodes[i]
	if n.Task < 0 {
		return false
	}
	return e.task(s, i).Loop != nil
}

// IsContainer reports whether node i runs a container (rather than being a
// DAG, a loop, an iteration or an importer).
func (e *Engine) IsContainer(s *State, i int32) bool { return e.isContainer(s, i) }

func (e *Engine) isContainer(s *State, i int32) bool {
	n := &s.Nodes[i]
	if n.Task < 0 {
		return false
	}
	t := e.task(s, i)
	return t.Loop == nil && t.Component.Executor != nil && t.Component.Executor.Container != nil
}
