package schedules

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// timers wake each schedule at its next fire time, on the reconciler's
// clock, through a channel source: the schedule is reconciled when its
// fire is due, not on a resync.
type timers struct {
	clock clock.WithDelayedExecution
	wake  chan event.TypedGenericEvent[*v1alpha1.Schedule]

	mu sync.Mutex
	m  map[types.NamespacedName]timer
}

type timer struct {
	at time.Time
	t  clock.Timer
}

func newTimers(c clock.WithDelayedExecution) *timers {
	return &timers{clock: c, wake: make(chan event.TypedGenericEvent[*v1alpha1.Schedule], 4096), m: map[types.NamespacedName]timer{}}
}

// set wakes the schedule at at (zero: never), replacing its timer. The
// delay is taken from the clock now, not from when the reconcile began:
// the time the reconcile took must not make the fire late.
func (t *timers) set(key types.NamespacedName, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.m[key]
	if ok && old.at.Equal(at) {
		return
	}
	if ok {
		old.t.Stop()
		delete(t.m, key)
	}
	if at.IsZero() {
		return
	}
	obj := &v1alpha1.Schedule{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	wake := func() { t.wake <- event.TypedGenericEvent[*v1alpha1.Schedule]{Object: obj} }
	d := at.Sub(t.clock.Now())
	if d <= 0 {
		// Due already (the reconcile took that long); a fake clock would
		// not run a timer that is due until it moves again.
		go wake()
		return
	}
	// A fake clock runs the function while it holds its lock: it must
	// not call the clock, only hand the schedule on.
	t.m[key] = timer{at: at, t: t.clock.AfterFunc(d, wake)}
}

// stop forgets the schedule's timer.
func (t *timers) stop(key types.NamespacedName) { t.set(key, time.Time{}) }
