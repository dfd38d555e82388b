package controller

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// conflictRetry is the wait before retrying after a write conflict: the
// informer cache is a few milliseconds behind our own last write.
const conflictRetry = 10 * time.Millisecond

// storeReadTimeout bounds one read of a result from the artifact store: a
// store that does not answer in time is unavailable (the read is retried),
// never a failed task.
const storeReadTimeout = 20 * time.Second

// indexRunPipeline indexes runs by "<namespace>/<pipeline>", so that a new
// pipeline version wakes the runs waiting for it.
const indexRunPipeline = "spec.pipeline"

// PipelineRunReconciler drives runs: it feeds task results into the
// engine, starts what the engine asks for and stores the engine's state in
// the run's status.
type PipelineRunReconciler struct {
	client.Client
	// Options configure execution.
	Options Options
	// Recorder emits events for run-level changes and task failures (not
	// for every task: a 5,000-task run must not cost 5,000 events).
	Recorder events.EventRecorder

	// APIReader reads past the cache, to tell a pod that is gone from one
	// the cache has not seen yet.
	APIReader client.Reader

	plans *planCache
	// stores keeps the artifact stores of pipeline roots open, a bounded
	// number: roots come from runs.
	stores *launcher.StorePool
	local  *localRuns
	// states keeps the decoded state of each run by resourceVersion, so
	// that a reconcile of a big run does not decode its status again.
	statesMu sync.Mutex
	states   map[types.NamespacedName]cachedState

	// slots enforce Options.MaxRunningTasks (nil: no limit).
	slots *taskSlots
	// driven memoises which runs' pods count against the limit when a
	// run selector splits runs between controllers.
	drivenMu sync.Mutex
	driven   map[types.NamespacedName]types.UID
	// slotsSynced reports whether the count has seen every existing pod.
	slotsSynced func() bool
	// workspaces marks the runs whose workspace PVC exists.
	workspaces sync.Map
	// notes are the task notes each run has reported as events.
	notes noteLog
}

type cachedState struct {
	uid             types.UID
	resourceVersion string
	state           *engine.State
}

// Reconcile advances one run.
func (r *PipelineRunReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cached := &v1alpha1.PipelineRun{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("getting PipelineRun: %w", err)
	}
	if !cached.DeletionTimestamp.IsZero() || cached.Status.Phase.Terminal() {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	if behind, err := r.cacheBehind(ctx, cached); err != nil || behind {
		// Our last status update has not reached the cache: a step from
		// the older status would redo work and fail with a conflict.
		return reconcile.Result{RequeueAfter: conflictRetry}, err
	}
	var slots *grant
	if r.slots != nil {
		if !r.slotsSynced() && !waitSynced(ctx, r.slotsSynced) {
			return reconcile.Result{}, errors.New("the count of running task pods did not sync")
		}
		// Ended however advance returns: unused slots go back, and a slot
		// this run was woken for goes to the next in line.
		slots = r.slots.begin(req.NamespacedName)
		defer func() { slots.end(slots.waiting) }()
	}
	run := cached.DeepCopy()
	res, err := r.advance(ctx, run, &cached.Status, slots)
	if apierrors.IsConflict(err) {
		// The cache lags behind our last write; try again on fresh data.
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	return res, err
}

// forget releases what a deleted run held in memory; its local processes
// are killed (its pods go with it through their owner reference).
func (r *PipelineRunReconciler) forget(name types.NamespacedName) {
	r.local.stop(name)
	r.dropState(name)
	r.forgetKFP(name)
	if r.slots != nil {
		r.slots.forget(name)
		r.drivenMu.Lock()
		delete(r.driven, name)
		r.drivenMu.Unlock()
	}
}

func (r *PipelineRunReconciler) dropState(name types.NamespacedName) {
	r.statesMu.Lock()
	delete(r.states, name)
	r.statesMu.Unlock()
}

// advance runs one step of the run and writes its status unless it is
// unchanged (orig): it prepares the engine and state, gathers what
// happened since the last step, steps the engine and starts what it asks
// for, then persists the state once. slots is the reconcile's grant of
// task slots (nil without a limit of running tasks).
func (r *PipelineRunReconciler) advance(ctx context.Context, run *v1alpha1.PipelineRun, orig *v1alpha1.PipelineRunStatus, slots *grant) (reconcile.Result, error) {
	s, err := r.prepare(ctx, run)
	if s == nil || err != nil {
		return reconcile.Result{}, err
	}
	defer s.release()
	if err := r.gather(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	// Under a limit of running tasks, the pods a step may start are the
	// slots granted; the run queues if it is left with ready tasks.
	if slots != nil && s.local == nil {
		s.slots = slots
		defer func() { slots.waiting = s.deferred > 0 && !run.Status.Phase.Terminal() }()
	}
	wake, err := r.step(ctx, s)
	if err != nil {
		return reconcile.Result{}, err
	}
	r.noteStore(s.run, s.storeErr)
	res, err := r.persist(ctx, s, orig, wake)
	if err == nil && s.storeErr != nil {
		// Retried with the controller's backoff until the store answers.
		return reconcile.Result{}, fmt.Errorf("reading task results: %w", s.storeErr)
	}
	return res, err
}

// runStep is what one reconcile of a run works with: the engine and its
// state, where the run's artifacts are, and the results gathered since the
// last step.
type runStep struct {
	run   *v1alpha1.PipelineRun
	eng   *engine.Engine
	state *engine.State
	store *launcher.Store
	// release gives the store back to the pool.
	release func()
	root    string
	now     time.Time

	// local is the run's local-executor process set (nil for pods), and
	// taken the results taken from it, delivered again if the status
	// write fails.
	local *localRun
	taken []engine.Event
	// pods are the run's task pods by node (the newest attempt).
	pods map[int32]*corev1.Pod
	// results are finished attempts, keyed by node and attempt; a result is
	// fed to the engine once its node runs that attempt (fed), which may be
	// only after a Step (a state rebuilt after a lost status update starts
	// the attempt again).
	results  map[attemptKey]result
	fed      map[attemptKey]bool
	failures map[int32]*launcher.Message
	// stuck are fed pods that can never start: deleted once their failure
	// is recorded, so they hold no resources.
	stuck []*corev1.Pod
	// lostCheck is when to look again for pods that may be lost.
	lostCheck time.Duration
	timedOut  bool
	// storeErr is why a finished attempt's result could not be read now
	// (the artifact store is unavailable): the step is retried.
	storeErr error

	slots    *grant
	deferred int
}

// prepare resolves the run's version (once: a run keeps it for life),
// compiles its plan, loads or starts the engine's state and opens the
// pipeline root. A nil step means the run cannot advance now (it waits for
// its pipeline, or has just been failed).
func (r *PipelineRunReconciler) prepare(ctx context.Context, run *v1alpha1.PipelineRun) (*runStep, error) {
	now := time.Now()
	// Before anything else: a run that admission should have refused
	// (webhooks off) fails here without resolving, compiling or starting
	// anything.
	if errs := validation.ValidatePipelineRunPolicy(run.Spec, r.Options.runPolicy()); len(errs) > 0 {
		return nil, r.fail(ctx, run, v1alpha1.ReasonExecutorNotAllowed, errs.ToAggregate().Error())
	}
	if run.Status.PipelineVersion == 0 {
		if done, err := r.resolve(ctx, run); !done {
			return nil, err
		}
	}
	plan, err := r.plans.forRun(ctx, r.APIReader, run)
	if err != nil {
		if errors.Is(err, errVersionGone) {
			return nil, r.fail(ctx, run, v1alpha1.ReasonVersionNotFound, err.Error())
		}
		if isInvalid(err) {
			return nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, err.Error())
		}
		// Transient (the API server, a ConfigMap read): retried with
		// backoff, never a failed run.
		return nil, err
	}
	root := run.Spec.PipelineRoot
	if root == "" {
		root = r.Options.PipelineRoot
	}
	// The store before the state: a run waits for an unavailable store
	// without starting (or announcing) anything.
	store, release, err := r.openStore(ctx, run, root)
	if store == nil {
		return nil, err
	}
	opts := engine.Options{MaxParallel: int(run.Spec.Parallelism), PipelineRoot: root}
	if plan.Workspace != nil {
		opts.WorkspacePath = WorkspaceMountPath
		if run.Spec.Executor == v1alpha1.ExecutorLocal {
			opts.WorkspacePath = r.local.workspace(run)
		}
	}
	eng := engine.New(plan, opts)
	state, err := r.loadState(run)
	if err != nil {
		release()
		return nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, err.Error())
	}
	if state == nil {
		params, reason, msg, admitErr := r.admit(ctx, run, plan)
		if admitErr != nil {
			release()
			return nil, admitErr
		}
		if reason != "" {
			release()
			return nil, r.fail(ctx, run, reason, msg)
		}
		state, err = eng.Start(run.Name, params, now)
		if err != nil {
			release()
			return nil, r.fail(ctx, run, v1alpha1.ReasonInvalid, "binding parameters: "+err.Error())
		}
		// The UID, not the name, makes the run's artifact paths and job
		// UUID: a run made again under the same name shares neither.
		state.RunUID = string(run.UID)
		run.Status.StartTime = &metav1.Time{Time: time.UnixMilli(state.Start)}
		r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, v1alpha1.ReasonRunning, "Starting", "running version %d of pipeline %s", run.Status.PipelineVersion, run.Spec.Pipeline)
		if run.Spec.Executor == v1alpha1.ExecutorLocal {
			r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, v1alpha1.ReasonImagesIgnored, "Starting", "the local executor runs task commands on the controller's machine; container images are ignored")
		}
	}
	return &runStep{
		run: run, eng: eng, state: state, store: store, release: release, root: root, now: now,
		results: map[attemptKey]result{}, fed: map[attemptKey]bool{}, failures: map[int32]*launcher.Message{},
	}, nil
}

// gather collects what happened since the last step: results of local
// attempts, or finished and lost task pods.
func (r *PipelineRunReconciler) gather(ctx context.Context, s *runStep) error {
	var err error
	if s.run.Spec.Executor == v1alpha1.ExecutorLocal {
		if s.local, err = r.local.get(ctx, s.run, s.root, int(s.run.Spec.Parallelism)); err != nil {
			return err
		}
		s.taken = s.local.take()
		for i := range s.taken {
			s.results[attemptKey{s.taken[i].Node, s.taken[i].Attempt}] = result{event: &s.taken[i]}
		}
		return nil
	}
	if s.pods, err = r.podResults(ctx, s.run, s.results); err != nil {
		return err
	}
	s.lostCheck, err = r.lostPods(ctx, s.run, s.state, s.pods, s.results, s.now)
	return err
}

// feed appends to evs the gathered results whose node now runs their
// attempt, in node and attempt order, so that a step redone after a crash
// or a conflict sees the same events in the same order.
func (r *PipelineRunReconciler) feed(ctx context.Context, s *runStep, evs []engine.Event) []engine.Event {
	keys := make([]attemptKey, 0, len(s.results))
	for k := range s.results {
		if !s.fed[k] && int(k.node) < len(s.state.Nodes) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b attemptKey) int {
		return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.attempt, b.attempt))
	})
	for _, k := range keys {
		n := &s.state.Nodes[k.node]
		if n.Phase != engine.Running || n.Attempt != k.attempt {
			continue
		}
		s.fed[k] = true
		res := s.results[k]
		ev := res.event
		if ev == nil {
			// A pod of this run for another task is never taken for
			// this one's (the state that created it was not persisted and
			// a redone step handed its node to another task).
			if why := ownsAttempt(res.pod, s.run, k.node, k.attempt, s.eng.Path(s.state, k.node)); why != "" {
				r.Recorder.Eventf(s.run, res.pod, corev1.EventTypeWarning, v1alpha1.ReasonPodNotControlled, "Adopting", "not taking the result of pod %s: %s", res.pod.Name, why)
				evs = append(evs, engine.Event{Kind: engine.TaskFinished, Node: k.node, Attempt: k.attempt, Message: "the task's pod is not its own: " + why})
				continue
			}
			path := launcher.ResultPath(s.eng.Plan().Name, s.state.RunID, s.state.RunUID, s.eng.Path(s.state, k.node))
			e, err := r.podEvent(ctx, s.store, res.pod, k, path, s.failures)
			if err != nil {
				// The store is unavailable for now: the result stays
				// unfed, the pod stays, and the step is retried.
				s.storeErr = err
				continue
			}
			ev = &e
			if _, ok := podStuck(res.pod); ok {
				s.stuck = append(s.stuck, res.pod)
			}
		}
		r.cacheResult(ctx, r.taskCache(s.run, s.store), s.eng, s.state, ev)
		r.reportNotes(s.run, s.eng.Path(s.state, k.node), ev.Notes)
		evs = append(evs, *ev)
	}
	return evs
}

// step feeds the gathered results, a cancel or timeout, into the engine and
// carries out its actions (cache lookups, pods or local processes to start
// or stop), stepping again until no cache hit is left to feed back. It
// returns the engine's next timer.
func (r *PipelineRunReconciler) step(ctx context.Context, s *runStep) (time.Time, error) {
	evs := r.feed(ctx, s, nil)
	if s.local != nil {
		evs = append(evs, r.orphanedLocal(s.state, s.local, s.results)...)
	}
	if !s.state.CancelRequested {
		if s.run.Spec.Cancel {
			evs = append(evs, engine.Event{Kind: engine.CancelRun})
		} else if t := s.run.Spec.Timeout; t != nil && t.Duration > 0 && s.now.After(time.UnixMilli(s.state.Start).Add(t.Duration)) {
			evs = append(evs, engine.Event{Kind: engine.CancelRun})
			s.timedOut = true
		}
	}
	log.FromContext(ctx).V(2).Info("stepping", "resourceVersion", s.run.ResourceVersion, "events", len(evs), "nodes", len(s.state.Nodes))
	var wake time.Time
	for {
		res := r.engineStep(s, evs)
		wake = res.WakeAt
		for _, c := range res.Changes {
			if c.Phase == engine.Failed && s.eng.IsContainer(s.state, c.Node) {
				r.Recorder.Eventf(s.run, nil, corev1.EventTypeWarning, v1alpha1.ReasonTaskFailed, "TaskFailed", "task %s failed: %s", s.eng.Path(s.state, c.Node), c.Message)
			}
		}
		hits, err := r.act(ctx, s, res.Actions)
		if err != nil {
			return wake, err
		}
		if evs = r.feed(ctx, s, hits); len(evs) == 0 {
			return wake, nil
		}
	}
}

// engineStep steps the engine once. Under a limit of running tasks a first
// step applies the events and counts the tasks that could start, a second
// one starts as many as there are slots.
func (r *PipelineRunReconciler) engineStep(s *runStep, evs []engine.Event) engine.Result {
	if s.slots == nil {
		return s.eng.Step(s.state, s.now, evs...)
	}
	res := s.eng.StepLimited(s.state, s.now, 0, evs...)
	if res.Deferred > 0 {
		if n := s.slots.take(res.Deferred); n > 0 {
			more := s.eng.StepLimited(s.state, s.now, n)
			res.Actions = append(res.Actions, more.Actions...)
			res.Changes = append(res.Changes, more.Changes...)
			res.WakeAt, res.Deferred = more.WakeAt, more.Deferred
		}
	}
	s.deferred = res.Deferred
	return res
}

// act carries out the engine's actions. It returns the cache hits, which
// are fed back to the engine as finished attempts instead of started.
func (r *PipelineRunReconciler) act(ctx context.Context, s *runStep, actions []engine.Action) ([]engine.Event, error) {
	var hits []engine.Event
	for _, a := range actions {
		switch a.Kind {
		case engine.StartTask:
			if a.Task.CacheKey != "" {
				if hit, ok := r.cacheHit(ctx, s.run, s.store, a.Task.Path, a.Task.CacheKey); ok {
					hits = append(hits, engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt, Succeeded: true, Cached: true, Params: hit.Params, Artifacts: hit.Artifacts})
					continue
				}
			}
			if s.local != nil {
				s.local.start(ctx, a)
				continue
			}
			if a.Task.Component.Executor.Kind != pipeline.ExecContainer {
				// CreatePVC and DeletePVC: the controller acts, no pod.
				hits = append(hits, r.pvcTask(ctx, s.run, a))
				continue
			}
			if err := r.ensureWorkspace(ctx, s); err != nil {
				var bad *badTaskPod
				if errors.As(err, &bad) {
					hits = append(hits, engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt, Message: bad.Error()})
					continue
				}
				return nil, err
			}
			// One at a time: on a cluster short of room, pods created
			// faster than they can be placed back off in the scheduler
			// (bench/RESULTS.md).
			pod, refused, err := r.createPod(ctx, s.run, s.root, a, s.pods, s.eng.Plan().Workspace != nil)
			var bad *badTaskPod
			if errors.As(err, &bad) {
				// The task's settings cannot make a pod (a toleration
				// given as JSON at run time that is not one): the
				// attempt fails, naming the problem.
				hits = append(hits, engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt, Message: bad.Error()})
				continue
			}
			if err != nil {
				return nil, err
			}
			if refused != nil {
				hits = append(hits, *refused)
				continue
			}
			if pod != nil && s.slots != nil {
				s.slots.use(client.ObjectKeyFromObject(pod))
			}
		case engine.CancelTask:
			if s.local != nil {
				s.local.x.Cancel(a)
				continue
			}
			if err := r.deletePod(ctx, s.run, a); err != nil {
				return nil, err
			}
		}
	}
	return hits, nil
}

// persist records the engine's state in the run's status with one update,
// unless nothing changed, then deletes pods that can never start and
// finishes a run that ended.
func (r *PipelineRunReconciler) persist(ctx context.Context, s *runStep, orig *v1alpha1.PipelineRunStatus, wake time.Time) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	run := s.run
	r.record(run, s.eng, s.state, s.failures, s.timedOut, s.now)
	if run.Status.Phase == v1alpha1.RunRunning && !s.state.CancelRequested {
		r.noteWaiting(s)
	}
	raw, err := json.Marshal(s.state)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("encoding run state: %w", err)
	}
	run.Status.State = &runtime.RawExtension{Raw: raw}
	run.Status.ObservedGeneration = run.Generation
	if equality.Semantic.DeepEqual(&run.Status, orig) {
		// Nothing happened (a run woken for a slot another took first).
		r.keepState(run, s.state)
		return r.requeue(run, s.state, wake, s.lostCheck), nil
	}
	if err := r.Status().Update(ctx, run); err != nil {
		r.dropState(client.ObjectKeyFromObject(run))
		if s.local != nil {
			// The results are not recorded: deliver them again.
			s.local.requeue(s.taken)
		}
		if apierrors.IsConflict(err) {
			logger.V(2).Info("status conflict; retrying", "events", len(s.taken))
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, fmt.Errorf("updating PipelineRun status: %w", err)
	}
	r.keepState(run, s.state)
	for _, pod := range s.stuck {
		if err := r.Delete(ctx, pod, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			logger.Error(err, "deleting a task pod that cannot start", "pod", pod.Name)
		}
	}
	if run.Status.Phase.Terminal() {
		r.forget(client.ObjectKeyFromObject(run))
		r.finished(run)
		logger.V(1).Info("run finished", "phase", run.Status.Phase)
		return reconcile.Result{}, nil
	}
	return r.requeue(run, s.state, wake, s.lostCheck), nil
}

// requeue says when a running run must be stepped without an event: a
// retry backoff or task timeout (wake), a pod that may be lost, the run's
// timeout.
func (r *PipelineRunReconciler) requeue(run *v1alpha1.PipelineRun, state *engine.State, wake time.Time, lostCheck time.Duration) reconcile.Result {
	result := reconcile.Result{RequeueAfter: lostCheck}
	if !wake.IsZero() {
		if until := max(time.Until(wake), time.Millisecond); result.RequeueAfter == 0 || until < result.RequeueAfter {
			result.RequeueAfter = until
		}
	}
	if t := run.Spec.Timeout; t != nil && t.Duration > 0 && !state.CancelRequested {
		until := time.Until(time.UnixMilli(state.Start).Add(t.Duration)) + time.Millisecond
		if result.RequeueAfter == 0 || until < result.RequeueAfter {
			result.RequeueAfter = max(until, time.Millisecond)
		}
	}
	return result
}

// cacheResult stores a task's successful result under its cache key when
// the task caches, for later tasks with the same component and inputs. A
// failure to store costs only a later cache hit.
func (r *PipelineRunReconciler) cacheResult(ctx context.Context, cache launcher.StoreCache, eng *engine.Engine, s *engine.State, ev *engine.Event) {
	if !ev.Succeeded || ev.Cached {
		return
	}
	key := eng.CacheKey(s, ev.Node)
	if key == "" {
		return
	}
	if err := cache.Put(ctx, key, &engine.CachedResult{Params: ev.Params, Artifacts: ev.Artifacts}); err != nil {
		log.FromContext(ctx).Error(err, "caching a task's result", "task", eng.Path(s, ev.Node))
	}
}

// orphanedLocal fails local attempts that the state says are running but
// that no process of this controller runs: their process died with the
// previous controller. The engine retries them if the task has retries.
func (r *PipelineRunReconciler) orphanedLocal(s *engine.State, lr *localRun, results map[attemptKey]result) []engine.Event {
	var evs []engine.Event
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if _, done := results[attemptKey{int32(i), n.Attempt}]; done {
			continue
		}
		if n.Phase == engine.Running && n.Attempt > 0 && n.Count == 0 && n.First < 0 && !lr.running(int32(i), n.Attempt) {
			evs = append(evs, engine.Event{Kind: engine.TaskFinished, Node: int32(i), Attempt: n.Attempt, Message: "the local process was lost when the controller restarted"})
		}
	}
	return evs
}

// lostPods fails running attempts whose pod is gone (deleted, evicted and
// collected): the engine retries them as its policy says. A pod missing
// from the cache is confirmed with the API server, and only once the
// attempt is older than the grace period, since the cache may not have
// seen a pod created a moment ago. It returns when to look again.
func (r *PipelineRunReconciler) lostPods(ctx context.Context, run *v1alpha1.PipelineRun, s *engine.State, pods map[int32]*corev1.Pod, results map[attemptKey]result, now time.Time) (time.Duration, error) {
	var again time.Duration
	for i := range s.Nodes {
		n := &s.Nodes[i]
		node := int32(i)
		if n.Phase != engine.Running || n.Attempt == 0 || n.First >= 0 {
			continue
		}
		if p, ok := pods[node]; ok && curAttempt(p) >= n.Attempt {
			continue
		}
		if _, ok := results[attemptKey{node, n.Attempt}]; ok {
			continue
		}
		age := now.Sub(time.UnixMilli(s.Start + n.Begin))
		if age < r.Options.LostPodGrace {
			if wait := r.Options.LostPodGrace - age; again == 0 || wait < again {
				again = wait
			}
			continue
		}
		name := podName(run, node, n.Attempt)
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, &corev1.Pod{})
		switch {
		case apierrors.IsNotFound(err):
			ev := engine.Event{Kind: engine.TaskFinished, Node: node, Attempt: n.Attempt, Message: fmt.Sprintf("the task's pod %s disappeared while it ran", name)}
			results[attemptKey{node, n.Attempt}] = result{event: &ev}
		case err != nil:
			return 0, fmt.Errorf("getting pod %s: %w", name, err)
		}
	}
	return again, nil
}

// attemptKey names one attempt of a node.
type attemptKey struct{ node, attempt int32 }

// result is a finished attempt: a local result, or a finished pod whose
// termination message is decoded only when the engine needs it (a big run
// has thousands of finished pods).
type result struct {
	event *engine.Event
	pod   *corev1.Pod
}

// podResults collects the run's finished task pods into results. It
// returns the run's pods by node (the newest attempt) too.
func (r *PipelineRunReconciler) podResults(ctx context.Context, run *v1alpha1.PipelineRun, results map[attemptKey]result) (map[int32]*corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(run.Namespace), client.MatchingLabels{v1alpha1.LabelRunUID: string(run.UID)}); err != nil {
		return nil, fmt.Errorf("listing task pods: %w", err)
	}
	pods := map[int32]*corev1.Pod{}
	for i := range list.Items {
		pod := &list.Items[i]
		if !metav1.IsControlledBy(pod, run) {
			r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, v1alpha1.ReasonPodNotControlled, "Adopting", "pod %s carries the run's labels but is not controlled by it; ignoring it", pod.Name)
			continue
		}
		node, attempt, ok := podAttempt(pod)
		if !ok {
			continue
		}
		if cur, seen := pods[node]; !seen || curAttempt(cur) < attempt {
			pods[node] = pod
		}
		if podDone(pod) {
			results[attemptKey{node, attempt}] = result{pod: pod}
		}
	}
	return pods, nil
}

// podEvent turns a finished pod into the engine's event, reading its
// termination message (and an offloaded result, only from resultPath). An
// error means the artifact store could not be read for now: the result
// must be read again later, not failed.
func (r *PipelineRunReconciler) podEvent(ctx context.Context, store *launcher.Store, pod *corev1.Pod, k attemptKey, resultPath string, failures map[int32]*launcher.Message) (engine.Event, error) {
	_, succeeded, msg, reason := podFinished(pod)
	ev := engine.Event{Kind: engine.TaskFinished, Node: k.node, Attempt: k.attempt, Succeeded: succeeded}
	if msg != "" {
		rctx, cancel := context.WithTimeout(ctx, storeReadTimeout)
		m, err := launcher.DecodeResult(rctx, store, []byte(msg), resultPath)
		cancel()
		if launcher.Unavailable(err) {
			return ev, err
		}
		if err != nil {
			ev.Succeeded = false
			ev.Message = "reading the task's result: " + err.Error()
		} else {
			ev.Params, ev.Artifacts, ev.Notes = m.Params, m.Artifacts, m.Notes
			if m.Error != "" {
				ev.Succeeded = false
				ev.Message = m.Error
				failures[k.node] = m
			}
		}
	} else if succeeded && hasOutputs(pod) {
		ev.Succeeded = false
		ev.Message = "the task pod left no termination message"
	}
	if !ev.Succeeded && ev.Message == "" {
		ev.Message = reason
	}
	return ev, nil
}

func curAttempt(p *corev1.Pod) int32 {
	_, a, _ := podAttempt(p)
	return a
}

// hasOutputs is false for pods whose task declares no outputs, which need
// no termination message (a simulated pod may have none).
func hasOutputs(pod *corev1.Pod) bool {
	return pod.Annotations[v1alpha1.AnnotationOutputs] == "true"
}

// createPod creates an attempt's pod and returns it. A pod of that name
// that exists already (created before a restart or a lost status update)
// is adopted, and nil returned, only when it is this attempt's: controlled
// by the run, with its UID, node, attempt and task. Any other pod (another
// run's, another task's) is never adopted: the attempt fails with the
// returned event, and a retry gets a pod of another name.
func (r *PipelineRunReconciler) createPod(ctx context.Context, run *v1alpha1.PipelineRun, root string, a engine.Action, pods map[int32]*corev1.Pod, workspace bool) (*corev1.Pod, *engine.Event, error) {
	if p, ok := pods[a.Node]; ok && curAttempt(p) == a.Attempt {
		if why := ownsAttempt(p, run, a.Node, a.Attempt, a.Task.Path); why != "" {
			return nil, r.refusePod(run, a, p, why), nil
		}
		return nil, nil, nil
	}
	pod, err := r.buildPod(run, root, a)
	if err != nil {
		return nil, nil, &badTaskPod{err}
	}
	if workspace {
		addWorkspace(pod, workspaceClaimName(run.Name))
	}
	if err := r.Create(ctx, pod); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonCreatingPodFailed, "CreatingPod", "creating pod for task %s: %v", a.Task.Path, err)
			return nil, nil, fmt.Errorf("creating pod for task %s: %w", a.Task.Path, err)
		}
		// Read past the cache: the pod may be one the cache has not seen.
		existing := &corev1.Pod{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), existing); err != nil {
			// Gone again (a pod being deleted): the next reconcile
			// creates it.
			return nil, nil, fmt.Errorf("reading pod %s, which exists already: %w", pod.Name, err)
		}
		if why := ownsAttempt(existing, run, a.Node, a.Attempt, a.Task.Path); why != "" {
			return nil, r.refusePod(run, a, existing, why), nil
		}
		return nil, nil, nil
	}
	return pod, nil, nil
}

// refusePod reports a pod that holds an attempt's pod name but is not the
// attempt's, and returns the event that fails the attempt.
func (r *PipelineRunReconciler) refusePod(run *v1alpha1.PipelineRun, a engine.Action, pod *corev1.Pod, why string) *engine.Event {
	r.Recorder.Eventf(run, pod, corev1.EventTypeWarning, v1alpha1.ReasonPodNotControlled, "Adopting", "not adopting pod %s for task %s: %s", pod.Name, a.Task.Path, why)
	return &engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt, Message: "the task's pod name is taken: " + why}
}

// deletePod stops an attempt.
func (r *PipelineRunReconciler) deletePod(ctx context.Context, run *v1alpha1.PipelineRun, a engine.Action) error {
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = run.Namespace, podName(run, a.Node, a.Attempt)
	if err := r.Delete(ctx, pod, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	return nil
}

// record maps the engine's state onto the status fields.
func (r *PipelineRunReconciler) record(run *v1alpha1.PipelineRun, eng *engine.Engine, s *engine.State, failures map[int32]*launcher.Message, timedOut bool, now time.Time) {
	st := &run.Status
	counts := map[string]int32{}
	var cached int32
	var failed int32 = -1
	for i := range s.Nodes {
		if !eng.IsContainer(s, int32(i)) {
			continue
		}
		p := s.Nodes[i].Phase
		counts[p.String()]++
		if p == engine.Succeeded && s.Nodes[i].Cached {
			cached++
		}
		if p == engine.Failed && failed < 0 {
			failed = int32(i)
		}
	}
	st.Tasks, st.CachedTasks = counts, cached
	if timedOut || meta(st, v1alpha1.ConditionSucceeded, v1alpha1.ReasonTimedOut) {
		timedOut = true
	}
	switch s.Phase {
	case engine.RunRunning:
		st.Phase = v1alpha1.RunRunning
		st.Message = ""
		setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionUnknown, v1alpha1.ReasonRunning, "the run is in progress", run.Generation)
		if timedOut {
			setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionUnknown, v1alpha1.ReasonTimedOut, "the run timed out; stopping its tasks", run.Generation)
		}
	case engine.RunSucceeded:
		st.Phase = v1alpha1.RunSucceeded
		setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionTrue, v1alpha1.ReasonSucceeded, "the run succeeded", run.Generation)
	case engine.RunCancelled:
		if timedOut {
			st.Phase, st.Message = v1alpha1.RunFailed, fmt.Sprintf("the run timed out after %s", run.Spec.Timeout.Duration)
			setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionFalse, v1alpha1.ReasonTimedOut, st.Message, run.Generation)
		} else {
			st.Phase, st.Message = v1alpha1.RunCancelled, "the run was cancelled"
			setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionFalse, v1alpha1.ReasonCancelled, st.Message, run.Generation)
		}
	case engine.RunFailed:
		st.Phase, st.Message = v1alpha1.RunFailed, s.Message
		if failed >= 0 {
			n := &s.Nodes[failed]
			f := &v1alpha1.TaskFailure{Task: eng.Path(s, failed), Message: n.Message}
			if m := failures[failed]; m != nil {
				f.Message, f.LogTail = m.Error, m.LogTail
			} else if st.Failure != nil && st.Failure.Task == f.Task {
				f.LogTail = st.Failure.LogTail
			}
			st.Failure = f
			if st.Message == "" {
				st.Message = fmt.Sprintf("task %s failed: %s", f.Task, f.Message)
			}
		}
		setCondition(st, v1alpha1.ConditionSucceeded, metav1.ConditionFalse, v1alpha1.ReasonTaskFailed, st.Message, run.Generation)
	}
	// Keep the log tail of the first failure seen, even when the run goes
	// on (exit handlers) before it fails.
	if st.Failure == nil && failed >= 0 {
		if m := failures[failed]; m != nil {
			st.Failure = &v1alpha1.TaskFailure{Task: eng.Path(s, failed), Message: m.Error, LogTail: m.LogTail}
		}
	}
	if st.Phase.Terminal() && st.CompletionTime == nil {
		st.CompletionTime = &metav1.Time{Time: now}
	}
	st.Metrics, st.MetricsOmitted = runMetrics(eng, s)
	params, _ := s.Outputs()
	if len(params) > 0 {
		st.Outputs = map[string]string{}
		for k, v := range params {
			b, _ := json.Marshal(v)
			st.Outputs[k] = string(b)
		}
	}
}

// maxPodsNamed bounds the waiting pods ConditionTaskPodsStarted names.
const maxPodsNamed = 5

// noteWaiting sets ConditionTaskPodsStarted from the run's task pods that
// wait (podWaiting), so that a run that does not move says why: a task
// asking for more than any node has, a Secret of spec.parameterSecrets
// that does not exist yet. The condition appears with the first pod that
// waits (and a Warning event), and turns True once none does.
func (r *PipelineRunReconciler) noteWaiting(s *runStep) {
	var why []string
	for node, pod := range s.pods {
		if w := podWaiting(pod); w != "" {
			why = append(why, fmt.Sprintf("task %s: pod %s: %s", s.eng.Path(s.state, node), pod.Name, w))
		}
	}
	st := &s.run.Status
	was := apimeta.FindStatusCondition(st.Conditions, v1alpha1.ConditionTaskPodsStarted)
	if len(why) == 0 {
		if was != nil {
			setCondition(st, v1alpha1.ConditionTaskPodsStarted, metav1.ConditionTrue, v1alpha1.ReasonTaskPodsStarted, "no task pod waits", s.run.Generation)
		}
		return
	}
	slices.Sort(why)
	more := ""
	if len(why) > maxPodsNamed {
		more = fmt.Sprintf("; and %d more", len(why)-maxPodsNamed)
		why = why[:maxPodsNamed]
	}
	msg := strings.Join(why, "; ") + more
	if was == nil || was.Status != metav1.ConditionFalse {
		r.Recorder.Eventf(s.run, nil, corev1.EventTypeWarning, v1alpha1.ReasonTaskPodsWaiting, "Waiting", "%s", msg)
	}
	setCondition(st, v1alpha1.ConditionTaskPodsStarted, metav1.ConditionFalse, v1alpha1.ReasonTaskPodsWaiting, msg, s.run.Generation)
}

// meta reports whether the condition has the reason.
func meta(st *v1alpha1.PipelineRunStatus, typ, reason string) bool {
	c := apimeta.FindStatusCondition(st.Conditions, typ)
	return c != nil && c.Reason == reason
}

func setCondition(st *v1alpha1.PipelineRunStatus, typ string, status metav1.ConditionStatus, reason, msg string, gen int64) {
	apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: truncate(msg, 32768), ObservedGeneration: gen})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// finished emits the run's final event.
func (r *PipelineRunReconciler) finished(run *v1alpha1.PipelineRun) {
	typ := corev1.EventTypeNormal
	if run.Status.Phase != v1alpha1.RunSucceeded {
		typ = corev1.EventTypeWarning
	}
	c := apimeta.FindStatusCondition(run.Status.Conditions, v1alpha1.ConditionSucceeded)
	reason := string(run.Status.Phase)
	if c != nil {
		reason = c.Reason
	}
	r.Recorder.Eventf(run, nil, typ, reason, "Finished", "run %s: %s", run.Status.Phase, run.Status.Message)
}

// fail ends a run that cannot go on (bad parameters, a version that is
// gone).
func (r *PipelineRunReconciler) fail(ctx context.Context, run *v1alpha1.PipelineRun, reason, msg string) error {
	run.Status.Phase, run.Status.Message = v1alpha1.RunFailed, msg
	now := metav1.Now()
	if run.Status.StartTime == nil {
		run.Status.StartTime = &now
	}
	run.Status.CompletionTime = &now
	setCondition(&run.Status, v1alpha1.ConditionSucceeded, metav1.ConditionFalse, reason, msg, run.Generation)
	if err := r.Status().Update(ctx, run); err != nil {
		return fmt.Errorf("updating PipelineRun status: %w", err)
	}
	r.Recorder.Eventf(run, nil, corev1.EventTypeWarning, reason, "Failing", "%s", msg)
	return nil
}

// resolve records the pipeline version the run executes. It reports false
// when the run must wait (the Pipeline or its first version is missing);
// the Pipeline watch wakes it.
func (r *PipelineRunReconciler) resolve(ctx context.Context, run *v1alpha1.PipelineRun) (bool, error) {
	p := &v1alpha1.Pipeline{}
	err := r.Get(ctx, types.NamespacedName{Namespace: run.Namespace, Name: run.Spec.Pipeline}, p)
	var reason, msg string
	switch {
	case apierrors.IsNotFound(err):
		reason, msg = v1alpha1.ReasonPipelineNotFound, fmt.Sprintf("pipeline %q does not exist (yet)", run.Spec.Pipeline)
	case err != nil:
		return false, fmt.Errorf("getting Pipeline %s: %w", run.Spec.Pipeline, err)
	default:
		want := run.Spec.PipelineVersion
		if want == 0 {
			want = p.Status.LatestVersion
		}
		if v := p.Status.Version(want); want > 0 && v != nil {
			run.Status.PipelineVersion, run.Status.ContentHash, run.Status.VersionConfigMap = v.Number, v.ContentHash, v.ConfigMap
			setCondition(&run.Status, v1alpha1.ConditionPipelineResolved, metav1.ConditionTrue, v1alpha1.ReasonResolved, fmt.Sprintf("version %d", v.Number), run.Generation)
			return true, nil
		}
		if run.Spec.PipelineVersion > 0 && run.Spec.PipelineVersion <= p.Status.LatestVersion {
			return false, r.fail(ctx, run, v1alpha1.ReasonVersionNotFound, fmt.Sprintf("version %d of pipeline %q is no longer kept", run.Spec.PipelineVersion, p.Name))
		}
		reason, msg = v1alpha1.ReasonVersionNotFound, fmt.Sprintf("pipeline %q has no valid version %d yet", p.Name, want)
	}
	if run.Status.Phase == v1alpha1.RunPending && meta(&run.Status, v1alpha1.ConditionPipelineResolved, reason) {
		return false, nil
	}
	run.Status.Phase, run.Status.Message = v1alpha1.RunPending, msg
	setCondition(&run.Status, v1alpha1.ConditionPipelineResolved, metav1.ConditionFalse, reason, msg, run.Generation)
	if err := r.Status().Update(ctx, run); err != nil {
		return false, fmt.Errorf("updating PipelineRun status: %w", err)
	}
	return false, nil
}

// admit checks, before a run's first task, what the webhook checks too
// (it may be off): the service account, recorded in the status, and the
// secret parameters. It returns the parameters to bind, secret ones as
// references (the engine, the state and the status never hold their
// values), or the reason and message to fail the run with.
func (r *PipelineRunReconciler) admit(ctx context.Context, run *v1alpha1.PipelineRun, plan *pipeline.Plan) (map[string]any, string, string, error) {
	sa, err := r.serviceAccount(ctx, run)
	if err != nil {
		var fe *field.Error
		if errors.As(err, &fe) {
			return nil, v1alpha1.ReasonServiceAccountNotAllowed, fe.Error(), nil
		}
		return nil, "", "", err
	}
	run.Status.ServiceAccountName = sa
	if errs := validation.ValidateParameterSecrets(run.Spec); len(errs) > 0 {
		return nil, v1alpha1.ReasonInvalid, errs.ToAggregate().Error(), nil
	}
	if errs := plan.CheckSecretParameters(slices.Sorted(maps.Keys(run.Spec.ParameterSecrets))); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, "spec."+e.Error())
		}
		return nil, v1alpha1.ReasonInvalid, strings.Join(msgs, "; "), nil
	}
	params := validation.SecretParameterValues(run.Spec)
	for k, v := range run.Spec.Parameters {
		params[k] = v
	}
	return params, "", "", nil
}

// serviceAccount resolves the service account of a run that starts, from
// its namespace's policy read past the cache (a namespace is read once a
// run). A refusal is a *field.Error at spec.serviceAccountName.
func (r *PipelineRunReconciler) serviceAccount(ctx context.Context, run *v1alpha1.PipelineRun) (string, error) {
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: run.Namespace}, ns); err != nil {
		return "", fmt.Errorf("getting Namespace %s for its service account policy: %w", run.Namespace, err)
	}
	sa, fe := validation.ResolveServiceAccount(run.Spec, ns.Annotations)
	if fe != nil {
		return "", fe
	}
	return sa, nil
}

// loadState returns the run's engine state (nil before the first step).
func (r *PipelineRunReconciler) loadState(run *v1alpha1.PipelineRun) (*engine.State, error) {
	r.statesMu.Lock()
	c, ok := r.states[client.ObjectKeyFromObject(run)]
	delete(r.states, client.ObjectKeyFromObject(run))
	r.statesMu.Unlock()
	if ok && c.uid == run.UID && c.resourceVersion == run.ResourceVersion {
		return c.state, nil
	}
	if run.Status.State == nil || len(run.Status.State.Raw) == 0 {
		return nil, nil
	}
	s := &engine.State{}
	if err := json.Unmarshal(run.Status.State.Raw, s); err != nil {
		return nil, fmt.Errorf("decoding run state: %w", err)
	}
	return s, nil
}

// cacheBehind reports whether the cached run is older than the status this
// controller last wrote: the state kept from that write has another
// resourceVersion, and the API server still has the kept one.
func (r *PipelineRunReconciler) cacheBehind(ctx context.Context, run *v1alpha1.PipelineRun) (bool, error) {
	r.statesMu.Lock()
	c, ok := r.states[client.ObjectKeyFromObject(run)]
	r.statesMu.Unlock()
	if !ok || c.uid != run.UID || c.resourceVersion == run.ResourceVersion {
		return false, nil
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("PipelineRun"))
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(run), live); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("getting PipelineRun: %w", err)
	}
	return live.UID == c.uid && live.ResourceVersion == c.resourceVersion, nil
}

func (r *PipelineRunReconciler) keepState(run *v1alpha1.PipelineRun, s *engine.State) {
	r.statesMu.Lock()
	r.states[client.ObjectKeyFromObject(run)] = cachedState{uid: run.UID, resourceVersion: run.ResourceVersion, state: s}
	r.statesMu.Unlock()
}

// SetupWithManager registers the reconciler: runs, their pods (only a
// pod's end matters), pipelines (a new version wakes waiting runs) and
// results of local attempts.
func (r *PipelineRunReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.plans = newPlanCache()
	r.stores = launcher.NewStorePool(maxOpenStores, launcher.StoreOptions{})
	if r.Options.CacheSigningKey == nil {
		log.Log.Info("no cache signing key given: cache entries written by this process are trusted by it only")
		r.Options.CacheSigningKey = newSigningKey()
	}
	r.local = newLocalRuns(r.Options.WorkDir, r.Options.LocalCommandDir)
	r.local.pythonExecutor, r.local.python = r.Options.PythonExecutor, r.Options.Python
	r.states = map[types.NamespacedName]cachedState{}
	if err := r.setupSlots(mgr); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.PipelineRun{}, indexRunPipeline, func(o client.Object) []string {
		run := o.(*v1alpha1.PipelineRun)
		return []string{run.Spec.Pipeline}
	}); err != nil {
		return fmt.Errorf("indexing runs by pipeline: %w", err)
	}
	// A run steps when one of its pods ends, and reports when one begins
	// or stops waiting (ConditionTaskPodsStarted).
	podEvents := predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return podDone(e.Object) || podWaitingOf(e.Object) != "" },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return (podDone(e.ObjectNew) && !podDone(e.ObjectOld)) || podWaitingOf(e.ObjectNew) != podWaitingOf(e.ObjectOld)
		},
		DeleteFunc: func(event.DeleteEvent) bool { return true },
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PipelineRun{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.Pod{}, builder.WithPredicates(podEvents)).
		Watches(&v1alpha1.Pipeline{}, handler.EnqueueRequestsFromMapFunc(r.runsOfPipeline)).
		WatchesRawSource(source.Channel(r.local.wake, &handler.TypedEnqueueRequestForObject[*v1alpha1.PipelineRun]{})).
		WithOptions(controllerOptions(r.Options))
	if r.slots != nil {
		b = b.WatchesRawSource(source.Channel(r.slots.wake, &handler.TypedEnqueueRequestForObject[*v1alpha1.PipelineRun]{}))
	}
	return b.Complete(r)
}

// setupSlots sets up the limit of running task pods: their count follows
// the pod informer, and no run steps before its initial list is counted.
func (r *PipelineRunReconciler) setupSlots(mgr ctrl.Manager) error {
	if r.Options.MaxRunningTasks <= 0 {
		return nil
	}
	var counts func(types.NamespacedName, types.UID) bool
	if r.Options.RunSelector != nil && !r.Options.RunSelector.Empty() {
		r.driven = map[types.NamespacedName]types.UID{}
		counts = r.drives
	}
	r.slots = newTaskSlots(r.Options.MaxRunningTasks, counts)
	inf, err := mgr.GetCache().GetInformer(context.Background(), &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("getting the pod informer: %w", err)
	}
	reg, err := inf.AddEventHandler(r.slots.handler())
	if err != nil {
		return fmt.Errorf("counting running task pods: %w", err)
	}
	r.slotsSynced = reg.HasSynced
	return registerSlotMetrics(r.slots)
}

// drives reports whether this controller drives the run, whose pods then
// count against its limit (runs split between controllers by selector).
func (r *PipelineRunReconciler) drives(run types.NamespacedName, uid types.UID) bool {
	r.drivenMu.Lock()
	known, ok := r.driven[run]
	r.drivenMu.Unlock()
	if ok {
		return known == uid
	}
	obj := &v1alpha1.PipelineRun{}
	if err := r.Get(context.Background(), run, obj); err != nil {
		// Not in this controller's cache: another controller's run, or one
		// deleted whose pods go with it. Unsure: count it.
		return !apierrors.IsNotFound(err)
	}
	r.drivenMu.Lock()
	r.driven[run] = obj.UID
	r.drivenMu.Unlock()
	return obj.UID == uid
}

// podDone is true for a pod that finished, or that can never start.
func podDone(o client.Object) bool {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return true
	}
	_, stuck := podStuck(p)
	return stuck
}

// podWaitingOf is podWaiting of a pod event's object.
func podWaitingOf(o client.Object) string {
	if p, ok := o.(*corev1.Pod); ok {
		return podWaiting(p)
	}
	return ""
}

// runsOfPipeline wakes the runs of a pipeline that wait for a version.
func (r *PipelineRunReconciler) runsOfPipeline(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.PipelineRunList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexRunPipeline: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing runs of pipeline", "pipeline", o.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Status.PipelineVersion == 0 {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
