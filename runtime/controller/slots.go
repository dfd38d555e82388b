package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// creatingTTL bounds how long a pod this process created is counted
// without the informer having shown it: long after the watch must have
// delivered it, so an entry can only be stale (a pod that ended before its
// creation was recorded).
const creatingTTL = 2 * time.Minute

// taskSlots enforces Options.MaxRunningTasks: the task pods that exist and
// have not finished, across all runs, never exceed the limit.
//
// The count comes from the pod informer, so a restarted controller counts
// the pods its predecessor left running, plus what this process holds
// beyond the cache: slots granted to a reconcile and pods created but not
// yet seen by the informer. A reconcile asks for the slots its ready tasks
// need before it starts them (grant); what it does not use goes back when
// it ends. Runs that got fewer slots than they wanted queue up, and as
// pods end the oldest are woken through a channel source: a freed slot
// starts a waiting task at once, without polling.
type taskSlots struct {
	max int
	// wake feeds the PipelineRun controller the runs to reconcile.
	wake chan event.TypedGenericEvent[*v1alpha1.PipelineRun]
	// counts reports whether a task pod of the run counts against the
	// limit; nil counts every task pod.
	counts func(run types.NamespacedName, uid types.UID) bool

	mu       sync.Mutex
	active   map[types.NamespacedName]podOwner  // unfinished task pods seen by the informer
	creating map[types.NamespacedName]time.Time // created here, not yet seen
	granted  int                                // held by reconciles in progress
	queue    []types.NamespacedName             // runs waiting for room, oldest first
	queued   map[types.NamespacedName]bool
	woken    map[types.NamespacedName]bool // dequeued, reconcile pending
}

// podOwner is the run a task pod belongs to.
type podOwner struct {
	run types.NamespacedName
	uid types.UID
}

func newTaskSlots(limit int, counts func(types.NamespacedName, types.UID) bool) *taskSlots {
	return &taskSlots{
		max: limit, counts: counts,
		wake:     make(chan event.TypedGenericEvent[*v1alpha1.PipelineRun], 1024),
		active:   map[types.NamespacedName]podOwner{},
		creating: map[types.NamespacedName]time.Time{},
		queued:   map[types.NamespacedName]bool{},
		woken:    map[types.NamespacedName]bool{},
	}
}

// handler keeps the count of unfinished task pods from the pod informer.
func (t *taskSlots) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.observe(obj, false) },
		UpdateFunc: func(_, obj any) { t.observe(obj, false) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			t.observe(obj, true)
		},
	}
}

func (t *taskSlots) observe(obj any, deleted bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels[v1alpha1.LabelRunUID] == "" {
		return
	}
	owner := metav1.GetControllerOf(pod)
	if owner == nil || owner.Kind != "PipelineRun" {
		return
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	t.mu.Lock()
	delete(t.creating, key)
	_, was := t.active[key]
	if deleted || podDone(pod) {
		delete(t.active, key)
	} else {
		t.active[key] = podOwner{run: types.NamespacedName{Namespace: pod.Namespace, Name: owner.Name}, uid: owner.UID}
	}
	_, is := t.active[key]
	wake := was && !is
	var runs []types.NamespacedName
	if wake {
		runs = t.kickLocked()
	}
	t.mu.Unlock()
	t.send(runs)
}

// usedLocked counts the slots in use.
func (t *taskSlots) usedLocked() int {
	n := t.granted
	now := time.Now()
	for k, at := range t.creating {
		if now.Sub(at) > creatingTTL {
			delete(t.creating, k)
			continue
		}
		n++
	}
	if t.counts == nil {
		return n + len(t.active)
	}
	for _, o := range t.active {
		if t.counts(o.run, o.uid) {
			n++
		}
	}
	return n
}

// begin marks the start of a reconcile of run and returns its grant,
// empty so far, which the reconcile must end however it returns: a run
// woken for a freed slot that returns before taking it (an error, a
// conflict, a run that cannot go on) hands the slot to the next in line
// when its grant ends.
func (t *taskSlots) begin(run types.NamespacedName) *grant {
	t.mu.Lock()
	defer t.mu.Unlock()
	woken := t.woken[run]
	delete(t.woken, run)
	return &grant{t: t, run: run, woken: woken}
}

// grant is the slots one reconcile holds.
type grant struct {
	t     *taskSlots
	run   types.NamespacedName
	woken bool
	left  int
	got   int // slots taken in all
	// waiting is set once the reconcile has stepped the engine: the run
	// has ready tasks it had no slot for.
	waiting bool
}

// take asks for n more slots and returns how many the reconcile holds.
// Runs that waited longer go first: a run gets nothing while others queue
// before it, unless it was woken for a freed slot or is first in line.
func (g *grant) take(n int) int {
	t := g.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= g.left {
		return g.left
	}
	n -= g.left
	free := t.max - t.usedLocked() - len(t.woken)
	if !g.woken && len(t.queue) > 0 && t.queue[0] != g.run {
		free = 0
	}
	got := max(0, min(n, free))
	if got > 0 && t.queued[g.run] {
		t.dequeueLocked(g.run)
	}
	t.granted += got
	g.left += got
	g.got += got
	return g.left
}

// use turns a granted slot into the pod created with it.
func (g *grant) use(pod types.NamespacedName) {
	t := g.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if g.left == 0 {
		return
	}
	g.left--
	t.granted--
	if _, seen := t.active[pod]; !seen {
		t.creating[pod] = time.Now()
	}
}

// end returns the unused slots; a run left with ready tasks it had no
// room for queues for the next freed slot: at the back, or at the front
// when it had been woken and another took the slot first, so that it keeps
// its turn.
func (g *grant) end(waiting bool) {
	t := g.t
	t.mu.Lock()
	t.granted -= g.left
	g.left = 0
	if waiting && !t.queued[g.run] {
		t.queued[g.run] = true
		if g.woken && g.got == 0 {
			t.queue = append([]types.NamespacedName{g.run}, t.queue...)
		} else {
			t.queue = append(t.queue, g.run)
		}
	}
	runs := t.kickLocked()
	t.mu.Unlock()
	t.send(runs)
}

// forget drops a run that is gone or finished.
func (t *taskSlots) forget(run types.NamespacedName) {
	t.mu.Lock()
	delete(t.woken, run)
	if t.queued[run] {
		t.dequeueLocked(run)
	}
	runs := t.kickLocked()
	t.mu.Unlock()
	t.send(runs)
}

func (t *taskSlots) dequeueLocked(run types.NamespacedName) {
	delete(t.queued, run)
	for i, r := range t.queue {
		if r == run {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			return
		}
	}
}

// kickLocked dequeues as many waiting runs as there are free slots not
// promised to runs already woken.
func (t *taskSlots) kickLocked() []types.NamespacedName {
	free := t.max - t.usedLocked() - len(t.woken)
	var runs []types.NamespacedName
	for free > 0 && len(t.queue) > 0 {
		run := t.queue[0]
		t.queue = t.queue[1:]
		delete(t.queued, run)
		t.woken[run] = true
		runs = append(runs, run)
		free--
	}
	return runs
}

// send wakes runs; outside the lock, since the channel may be full.
func (t *taskSlots) send(runs []types.NamespacedName) {
	for _, r := range runs {
		obj := &v1alpha1.PipelineRun{}
		obj.Namespace, obj.Name = r.Namespace, r.Name
		t.wake <- event.TypedGenericEvent[*v1alpha1.PipelineRun]{Object: obj}
	}
}

// stats reports the slots in use and the runs waiting, for metrics.
func (t *taskSlots) stats() (used, waiting int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usedLocked(), len(t.queue) + len(t.woken)
}

// waitSynced blocks until the informer has delivered its initial list, so
// that the first reconciles count the pods that already run.
func waitSynced(ctx context.Context, synced toolscache.InformerSynced) bool {
	return toolscache.WaitForCacheSync(ctx.Done(), synced)
}

var (
	slotMetricsOnce sync.Once
	slotMetrics     struct {
		sync.Mutex
		slots *taskSlots
	}
)

// registerSlotMetrics exports the limit's state on the manager's metrics
// endpoint: kfstack_task_slots_used and kfstack_runs_waiting_for_slots.
// The gauges read the latest controller's slots (tests start several).
func registerSlotMetrics(t *taskSlots) error {
	slotMetrics.Lock()
	slotMetrics.slots = t
	slotMetrics.Unlock()
	var err error
	slotMetricsOnce.Do(func() {
		read := func(waiting bool) func() float64 {
			return func() float64 {
				slotMetrics.Lock()
				s := slotMetrics.slots
				slotMetrics.Unlock()
				used, queued := s.stats()
				if waiting {
					return float64(queued)
				}
				return float64(used)
			}
		}
		for _, c := range []prometheus.Collector{
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kfstack_task_slots_used", Help: "Task pods counted against --max-running-tasks: unfinished pods and pods being created."}, read(false)),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kfstack_runs_waiting_for_slots", Help: "Runs with ready tasks waiting for a task slot."}, read(true)),
		} {
			if e := metrics.Registry.Register(c); e != nil {
				err = fmt.Errorf("registering slot metrics: %w", e)
			}
		}
	})
	return err
}
