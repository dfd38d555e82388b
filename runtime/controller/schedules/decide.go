package schedules

import (
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// situation is what a reconcile knows about a schedule's fire times.
type situation struct {
	trigger *schedule.Trigger
	// cursor: every fire time at or before it has made its run or was
	// skipped.
	cursor time.Time
	now    time.Time
	// started is when this controller started driving schedules: a fire
	// due before it was missed while no controller ran.
	started time.Time
	// end is spec.endTime (zero: none).
	end time.Time

	policy         v1alpha1.ConcurrencyPolicy
	maxConcurrency int
	// active counts the schedule's runs that have not finished.
	active int

	catchup    v1alpha1.CatchupPolicy
	maxCatchup int
	// deadline is spec.startingDeadline (0: none).
	deadline time.Duration
}

// decision is what a reconcile does about fire times.
type decision struct {
	// fire lists the fire times to make runs for, oldest first.
	fire []time.Time
	// skipThrough: fire times at or before it that make no run are missed
	// (zero: nothing skipped).
	skipThrough time.Time
	// skipped counts the missed fires; skippedMore says there were more
	// than counted (a long outage is not enumerated).
	skipped     int
	skippedMore bool
	// replace cancels the active runs older than the fire (Replace).
	replace bool
	// waiting reports a due fire held back by the concurrency policy; a
	// run's end wakes the schedule for it.
	waiting bool
}

// decide applies the catch-up and concurrency policies to the fire times
// due since the cursor. A fire is missed when the controller was down at
// its time (it is due before started), when the concurrency policy holds
// it back, or when it is older than startingDeadline; catchup then says
// which missed fires run: None, the latest, or all of them (the newest
// maxCatchup, oldest first, as concurrency allows).
func decide(s situation) decision {
	var d decision
	until := s.now
	if !s.end.IsZero() && s.end.Before(until) {
		until = s.end
	}
	keep := 1
	if s.catchup == v1alpha1.CatchupAll {
		keep = max(s.maxCatchup, 1)
	}
	due, more := s.trigger.Last(s.cursor, until, keep)
	if more && len(due) > 0 {
		d.skipOlder(due[0])
	}
	// Older than the deadline: missed, whatever the policy.
	for len(due) > 0 && s.deadline > 0 && s.now.Sub(due[0]) > s.deadline {
		d.skip(due[0])
		due = due[1:]
	}
	if len(due) == 0 {
		return d
	}
	// None and Latest looked at the newest due fire only (keep is 1):
	// older ones were skipped above.
	if s.catchup == v1alpha1.CatchupNone && due[0].Before(s.started) {
		d.skip(due[0]) // missed while no controller ran
		return d
	}
	free := s.slots()
	switch {
	case s.policy == v1alpha1.ConcurrencyReplace:
		d.fire, d.replace = due, s.active > 0
	case free >= len(due):
		d.fire = due
	case s.catchup == v1alpha1.CatchupNone:
		// Held back by the concurrency policy: missed.
		d.fire = due[:free]
		for _, t := range due[free:] {
			d.skip(t)
		}
	default:
		// Latest and All wait for a run to end.
		d.fire, d.waiting = due[:free], true
	}
	return d
}

// slots is how many runs may start now.
func (s situation) slots() int {
	limit := 1
	if s.policy == v1alpha1.ConcurrencyAllow || s.policy == "" {
		limit = max(s.maxConcurrency, 1)
	}
	return max(limit-s.active, 0)
}

// skip marks the fire time t missed.
func (d *decision) skip(t time.Time) {
	if t.After(d.skipThrough) {
		d.skipThrough = t
	}
	d.skipped++
}

// skipOlder marks every fire before t missed, without counting them.
func (d *decision) skipOlder(t time.Time) {
	if before := t.Add(-time.Second); before.After(d.skipThrough) {
		d.skipThrough = before
	}
	d.skippedMore = true
}
