// Package schedules is the Schedule controller: it makes a PipelineRun
// for each fire time of a Schedule, exactly at that time (a timer on the
// next fire wakes it: no resync), applies the concurrency and catch-up
// policies, counts the runs' results and keeps their history bounded. Runs
// are named by their fire time, so a fire makes one run whichever
// controller, before or after a restart, handles it.
package schedules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// Options configure the Schedule controller.
type Options struct {
	// Clock tells the time and wakes schedules at their fire times
	// (default: the real clock; tests use a fake one).
	Clock clock.WithDelayedExecution
	// MaxConcurrentReconciles is how many schedules are handled at once
	// (default 16: a reconcile mostly waits for the API server).
	MaxConcurrentReconciles int
}

// Setup registers the Schedule controller with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 16
	}
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("kfstack-schedule"),
		Clock:     opts.Clock,
	}
	if err := r.SetupWithManager(mgr, opts.MaxConcurrentReconciles); err != nil {
		return fmt.Errorf("setting up the Schedule controller: %w", err)
	}
	return nil
}

// Reconciler drives Schedules.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache: a run the cache has not seen yet
	// is not gone.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.WithDelayedExecution

	timers *timers

	startOnce sync.Once
	started   time.Time

	mu sync.Mutex
	// lastSeen is when each schedule was last reconciled: a fire due
	// after it and made now is on time, for the lateness histogram.
	lastSeen map[types.NamespacedName]time.Time
	// valid memoises validation by schedule generation and pipeline
	// resourceVersion, which name immutable inputs.
	valid map[types.NamespacedName]validated
	// made holds the runs made and not yet recorded in the status.
	made map[types.NamespacedName]madeRuns
}

type validated struct {
	key  string
	errs field.ErrorList
}

// Field indexes.
const (
	indexPipeline = "spec.run.pipeline"
	indexOwner    = "metadata.ownerReferences.schedule"
)

// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=schedules,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=schedules/status,verbs=update
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=schedules/finalizers,verbs=update
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelineruns,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelines,verbs=get;list;watch

// Reconcile handles one schedule: it takes stock of its runs, makes the
// runs that are due, and sets a timer for the next fire.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cached := &v1alpha1.Schedule{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("getting Schedule: %w", err)
	}
	if !cached.DeletionTimestamp.IsZero() {
		// Its runs go with it, by owner reference.
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	now := r.Clock.Now()
	r.startOnce.Do(func() { r.started = now })
	p := &pass{r: r, s: cached.DeepCopy(), now: now, lastSeen: r.seen(req.NamespacedName, now)}
	wake, err := p.run(ctx)
	if err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: 10 * time.Millisecond}, nil
		}
		return reconcile.Result{}, err
	}
	r.timers.set(req.NamespacedName, wake)
	if len(p.made) > 0 {
		// The runs are made; their record can wait until the schedules
		// that fire at the same second have made theirs. The next pass
		// knows them from here, or from the cache, or (after a restart)
		// adopts them.
		r.remember(req.NamespacedName, cached.UID, p.made)
		return reconcile.Result{RequeueAfter: statusDelay, Priority: ptr.To(0)}, nil
	}
	if !equality.Semantic.DeepEqual(cached.Status, p.s.Status) {
		if err := r.Status().Update(ctx, p.s); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return reconcile.Result{RequeueAfter: 10 * time.Millisecond}, nil
			}
			return reconcile.Result{}, fmt.Errorf("updating Schedule status: %w", err)
		}
	}
	r.mu.Lock()
	delete(r.made, req.NamespacedName)
	r.mu.Unlock()
	return reconcile.Result{}, nil
}

// statusDelay is how long the status write waits after a fire: a fire
// costs one write (the run) on its way, and the status write (the second)
// comes after those of every schedule that fired at the same time.
const statusDelay = 250 * time.Millisecond

// madeRun is a run this controller made whose record in the status is
// still to be written.
type madeRun struct {
	name  string
	at    time.Time
	index int64
}

type madeRuns struct {
	uid  types.UID
	runs map[string]madeRun
}

// remember keeps runs made for the schedule until its status records them.
func (r *Reconciler) remember(key types.NamespacedName, uid types.UID, runs []madeRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.made[key]
	if !ok || m.uid != uid {
		m = madeRuns{uid: uid, runs: map[string]madeRun{}}
	}
	for _, run := range runs {
		m.runs[run.name] = run
	}
	r.made[key] = m
}

// madeFor returns the runs made for the schedule and not yet recorded.
func (r *Reconciler) madeFor(key types.NamespacedName, uid types.UID) map[string]madeRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.made[key]; ok && m.uid == uid {
		return maps.Clone(m.runs)
	}
	return nil
}

// seen records a reconcile of the schedule at now and returns the one
// before (zero: none since this controller started).
func (r *Reconciler) seen(key types.NamespacedName, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.lastSeen[key]
	r.lastSeen[key] = now
	return prev
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.timers.stop(key)
	r.mu.Lock()
	delete(r.lastSeen, key)
	delete(r.valid, key)
	delete(r.made, key)
	r.mu.Unlock()
}

// pass is one reconcile of one schedule.
type pass struct {
	r        *Reconciler
	s        *v1alpha1.Schedule
	now      time.Time
	lastSeen time.Time
	runs     ownedRuns
	// failed explains a fire that could not make its run in this pass.
	failed string
	// made lists the runs this pass created.
	made []madeRun
}

// run takes the schedule through its phases, leaving the new status in
// p.s.Status; it returns when to wake next (zero: only on a change).
func (p *pass) run(ctx context.Context) (time.Time, error) {
	st := &p.s.Status
	st.ObservedGeneration = p.s.Generation
	if err := p.observeRuns(ctx); err != nil {
		return time.Time{}, err
	}
	wake, err := p.advance(ctx)
	if err != nil {
		return time.Time{}, err
	}
	// A pass that made runs leaves the history to the pass that records
	// them (statusDelay later, behind every fire due), so a burst of fires
	// is a burst of run creations only.
	if len(p.made) == 0 {
		if err := p.deleteHistory(ctx); err != nil {
			return time.Time{}, err
		}
	}
	return wake, nil
}

// advance validates the schedule, applies its suspension and makes the
// runs that are due; it returns the next fire time.
func (p *pass) advance(ctx context.Context) (time.Time, error) {
	if errs, err := p.validate(ctx); err != nil {
		return time.Time{}, err
	} else if len(errs) > 0 {
		p.invalid(errs)
		return time.Time{}, nil
	}
	trigger, terrs := validation.ScheduleTrigger(p.s.Spec, p.s.CreationTimestamp.Time)
	if len(terrs) > 0 {
		p.invalid(terrs)
		return time.Time{}, nil
	}
	p.noticeTriggerChange()
	if done, err := p.suspension(ctx); done || err != nil {
		return time.Time{}, err
	}
	wake, err := p.fire(ctx, trigger)
	if err != nil {
		return time.Time{}, err
	}
	p.upcoming(trigger, wake)
	return wake, nil
}

// validate runs validation.ValidateSchedule, memoised: the result can change only
// with the schedule's spec or its pipeline.
func (p *pass) validate(ctx context.Context) (field.ErrorList, error) {
	key := client.ObjectKeyFromObject(p.s)
	pl := &v1alpha1.Pipeline{}
	plVersion := "none"
	err := p.r.Get(ctx, types.NamespacedName{Namespace: p.s.Namespace, Name: p.s.Spec.Run.Pipeline}, pl)
	switch {
	case apierrors.IsNotFound(err):
		pl = nil
	case err != nil:
		return nil, fmt.Errorf("getting Pipeline %s: %w", p.s.Spec.Run.Pipeline, err)
	default:
		plVersion = pl.ResourceVersion
	}
	memo := fmt.Sprintf("%s/%d/%s", p.s.UID, p.s.Generation, plVersion)
	p.r.mu.Lock()
	v, ok := p.r.valid[key]
	p.r.mu.Unlock()
	if ok && v.key == memo {
		return v.errs, nil
	}
	errs, err := validation.ValidateSchedule(p.s.Name, p.s.Spec, func(string) (*v1alpha1.Pipeline, error) { return pl, nil }, versions.Reader(ctx, p.r.APIReader))
	if err != nil {
		return nil, err
	}
	p.r.mu.Lock()
	p.r.valid[key] = validated{key: memo, errs: errs}
	p.r.mu.Unlock()
	return errs, nil
}

// invalid reports a spec that cannot fire; a change of it, or of its
// pipeline, wakes the schedule again.
func (p *pass) invalid(errs field.ErrorList) {
	reason := v1alpha1.ScheduleReasonInvalid
	for _, e := range errs {
		if e.Type == field.ErrorTypeNotFound && e.Field == "spec.run.pipeline" {
			reason = v1alpha1.ScheduleReasonPipelineNotFound
		}
	}
	msg := errs.ToAggregate().Error()
	st := &p.s.Status
	if st.LastError != msg {
		p.r.Recorder.Eventf(p.s, nil, "Warning", reason, "Validating", "%s", msg)
	}
	st.LastError = msg
	st.NextScheduleTimes = nil
	p.condition(v1alpha1.ScheduleConditionReady, metav1.ConditionFalse, reason, msg)
}

// triggerHash identifies the fire times a spec makes.
func triggerHash(s v1alpha1.ScheduleSpec) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %v %v %q", s.Cron, s.CronSeconds, s.Interval, s.TimeZone)
	if s.StartTime != nil {
		fmt.Fprint(h, s.StartTime.UTC().Format(time.RFC3339Nano))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// noticeTriggerChange applies a changed cron, interval, zone or start
// from the next fire: fire times before now that the old trigger did not
// have must not run, and those it had are dropped with it.
func (p *pass) noticeTriggerChange() {
	st := &p.s.Status
	h := triggerHash(p.s.Spec)
	if st.TriggerHash != "" && st.TriggerHash != h {
		p.skipThrough(p.now)
		p.r.Recorder.Eventf(p.s, nil, "Normal", "TriggerChanged", "Scheduling", "the fire times changed; the next fire is the first after %s", p.now.UTC().Format(time.RFC3339))
	}
	st.TriggerHash = h
}

// suspension handles spec.suspend, resuming, and stopAfterFailures. It
// reports done when the schedule does not fire now.
func (p *pass) suspension(ctx context.Context) (done bool, err error) {
	st := &p.s.Status
	spec := p.s.Spec
	wasSuspended := apimeta.IsStatusConditionTrue(st.Conditions, v1alpha1.ScheduleConditionSuspended)
	if !spec.Suspend && spec.StopAfterFailures > 0 && st.ConsecutiveFailures >= spec.StopAfterFailures && !wasSuspended {
		msg := fmt.Sprintf("suspended after %d runs failed in a row (stopAfterFailures: %d); set suspend to false to resume", st.ConsecutiveFailures, spec.StopAfterFailures)
		patch := client.MergeFrom(p.s.DeepCopy())
		p.s.Spec.Suspend = true
		if err := p.r.Patch(ctx, p.s, patch); err != nil {
			return true, fmt.Errorf("suspending the Schedule: %w", err)
		}
		st.LastError = msg
		p.r.Recorder.Eventf(p.s, nil, "Warning", v1alpha1.ScheduleReasonTooManyFailures, "Suspending", "%s", msg)
		p.condition(v1alpha1.ScheduleConditionSuspended, metav1.ConditionTrue, v1alpha1.ScheduleReasonTooManyFailures, msg)
		p.suspendedStatus()
		return true, nil
	}
	if p.s.Spec.Suspend {
		if !wasSuspended {
			p.condition(v1alpha1.ScheduleConditionSuspended, metav1.ConditionTrue, v1alpha1.ScheduleReasonSuspended, "spec.suspend is set")
		}
		p.suspendedStatus()
		return true, nil
	}
	if wasSuspended {
		msg := "resumed; fires missed while suspended do not run"
		if spec.Catchup == v1alpha1.CatchupAll && spec.CatchupFromSuspended {
			msg = "resumed; fires missed while suspended run now (catchupFromSuspended)"
		} else {
			p.skipThrough(p.now)
		}
		st.ConsecutiveFailures = 0
		p.r.Recorder.Eventf(p.s, nil, "Normal", v1alpha1.ScheduleReasonResumed, "Resuming", "%s", msg)
	}
	p.condition(v1alpha1.ScheduleConditionSuspended, metav1.ConditionFalse, v1alpha1.ScheduleReasonActive, "the schedule fires")
	return false, nil
}

func (p *pass) suspendedStatus() {
	p.s.Status.NextScheduleTimes = nil
	p.condition(v1alpha1.ScheduleConditionReady, metav1.ConditionTrue, v1alpha1.ScheduleReasonSuspended, "valid; suspended")
}

// cursor is the time up to which every fire is handled: the newest run,
// the last skip, or the schedule's beginning (a fire exactly at its
// creation second is not its own: creationTimestamp is truncated).
func (p *pass) cursor() time.Time {
	st := p.s.Status
	c := p.s.CreationTimestamp.Time
	if start := p.s.Spec.StartTime; start != nil && start.Add(-time.Nanosecond).After(c) {
		c = start.Add(-time.Nanosecond)
	}
	if st.LastScheduleTime != nil && st.LastScheduleTime.After(c) {
		c = st.LastScheduleTime.Time
	}
	if st.SkippedThrough != nil && st.SkippedThrough.After(c) {
		c = st.SkippedThrough.Time
	}
	return c
}

func (p *pass) skipThrough(t time.Time) {
	if st := &p.s.Status; st.SkippedThrough == nil || t.After(st.SkippedThrough.Time) {
		st.SkippedThrough = &metav1.Time{Time: t.UTC().Truncate(time.Second)}
	}
}

// upcoming records the next fire times and the Ready and Completed
// conditions.
func (p *pass) upcoming(trigger *schedule.Trigger, wake time.Time) {
	st := &p.s.Status
	st.NextScheduleTimes = nil
	for _, t := range trigger.Upcoming(p.now, v1alpha1.NextScheduleTimesShown) {
		if end := p.s.Spec.EndTime; end != nil && t.After(end.Time) {
			break
		}
		st.NextScheduleTimes = append(st.NextScheduleTimes, metav1.Time{Time: t.UTC()})
	}
	if end := p.s.Spec.EndTime; end != nil {
		if !p.now.Before(end.Time) && wake.IsZero() && p.cursorAfter(trigger, end.Time) {
			p.condition(v1alpha1.ScheduleConditionCompleted, metav1.ConditionTrue, v1alpha1.ScheduleReasonEnded, "endTime has passed")
		} else {
			p.condition(v1alpha1.ScheduleConditionCompleted, metav1.ConditionFalse, v1alpha1.ScheduleReasonActive, "fires until endTime")
		}
	} else {
		apimeta.RemoveStatusCondition(&st.Conditions, v1alpha1.ScheduleConditionCompleted)
	}
	if p.failed != "" {
		st.LastError = p.failed
		p.condition(v1alpha1.ScheduleConditionReady, metav1.ConditionFalse, v1alpha1.ScheduleReasonFireFailed, p.failed)
		return
	}
	st.LastError = ""
	p.condition(v1alpha1.ScheduleConditionReady, metav1.ConditionTrue, v1alpha1.ScheduleReasonScheduling, "fires make their runs")
}

// cursorAfter reports that no fire is due up to end any more.
func (p *pass) cursorAfter(trigger *schedule.Trigger, end time.Time) bool {
	n := trigger.Next(p.cursor())
	return n.IsZero() || n.After(end)
}

func (p *pass) condition(typ string, status metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&p.s.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: p.s.Generation,
	})
}

// SetupWithManager registers the reconciler: schedules (a spec change),
// their runs (one that ends frees a slot and is counted), pipelines (a
// new version may make an invalid schedule valid) and the fire timers.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	r.lastSeen = map[types.NamespacedName]time.Time{}
	r.valid = map[types.NamespacedName]validated{}
	r.made = map[types.NamespacedName]madeRuns{}
	r.timers = newTimers(r.Clock)
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Schedule{}, indexPipeline, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Schedule).Spec.Run.Pipeline}
	}); err != nil {
		return fmt.Errorf("indexing schedules by pipeline: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.PipelineRun{}, indexOwner, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Schedule" && strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
			return []string{string(ref.UID)}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing runs by schedule: %w", err)
	}
	runChanged := predicate.Funcs{
		// The schedule made it, and knows.
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return finished(e.ObjectNew) != finished(e.ObjectOld)
		},
		DeleteFunc: func(event.DeleteEvent) bool { return true },
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Schedule{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&v1alpha1.PipelineRun{}, builder.WithPredicates(runChanged)).
		Watches(&v1alpha1.Pipeline{}, handler.EnqueueRequestsFromMapFunc(r.schedulesOfPipeline)).
		WatchesRawSource(source.Channel(r.timers.wake, fireHandler{})).
		// A priority queue: when many schedules fire at the same second,
		// every fire is handled before any status write, history deletion
		// or reaction to a finished run.
		WithOptions(controller.Options{MaxConcurrentReconciles: workers, UsePriorityQueue: ptr.To(true)}).
		Complete(r)
}

// firePriority is the queue priority of a schedule woken by its timer
// (others have 0, the default).
const firePriority = 10

// fireHandler queues a schedule whose fire is due ahead of other work.
type fireHandler struct{}

func (fireHandler) Create(context.Context, event.TypedCreateEvent[*v1alpha1.Schedule], workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}
func (fireHandler) Update(context.Context, event.TypedUpdateEvent[*v1alpha1.Schedule], workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}
func (fireHandler) Delete(context.Context, event.TypedDeleteEvent[*v1alpha1.Schedule], workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}

func (fireHandler) Generic(_ context.Context, e event.TypedGenericEvent[*v1alpha1.Schedule], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(firePriority)}, req)
		return
	}
	q.Add(req)
}

func finished(o client.Object) bool {
	run, ok := o.(*v1alpha1.PipelineRun)
	return ok && run.Status.Phase.Terminal()
}

// schedulesOfPipeline wakes the schedules that run a pipeline.
func (r *Reconciler) schedulesOfPipeline(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.ScheduleList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPipeline: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing schedules of pipeline", "pipeline", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
