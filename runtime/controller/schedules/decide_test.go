package schedules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// TestDecide covers the policies on a schedule firing every minute. The
// cursor is 10:00 (that fire made its run); times are minutes past 10.
func TestDecide(t *testing.T) {
	everyMinute, errs := schedule.Parse(schedule.Spec{Cron: []string{"* * * * *"}})
	if errs != nil {
		t.Fatal(errs)
	}
	at := func(min, sec int) time.Time { return time.Date(2026, 1, 1, 10, min, sec, 0, time.UTC) }
	cases := []struct {
		name string
		s    situation
		want string
	}{
		{"nothing due", situation{now: at(0, 30)}, "fire [] skip - waiting false"},
		{"on time", situation{now: at(1, 0)}, "fire [1] skip - waiting false"},
		{"on time, a little late", situation{now: at(1, 2)}, "fire [1] skip - waiting false"},

		// The controller was down from 10:00:30 to 10:05:10.
		{"outage, None", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupNone}, "fire [] skip 5 (1+) waiting false"},
		{"outage, Latest", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupLatest}, "fire [5] skip 4 (0+) waiting false"},
		{"outage, All, one at a time", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupAll, maxCatchup: 100}, "fire [1] skip - waiting true"},
		{"outage, All, Allow 3", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupAll, maxCatchup: 100, maxConcurrency: 3}, "fire [1 2 3] skip - waiting true"},
		{"outage, All, Allow 10", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupAll, maxCatchup: 100, maxConcurrency: 10}, "fire [1 2 3 4 5] skip - waiting false"},
		{"outage, All, maxCatchup 2", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupAll, maxCatchup: 2, maxConcurrency: 10}, "fire [4 5] skip 3 (0+) waiting false"},
		{"outage, None, the fire after the restart runs", situation{now: at(6, 0), started: at(5, 10), catchup: v1alpha1.CatchupNone, cursor: at(5, 0)}, "fire [6] skip - waiting false"},

		// A run is active.
		{"Forbid, None: missed", situation{now: at(1, 0), active: 1, policy: v1alpha1.ConcurrencyForbid, catchup: v1alpha1.CatchupNone}, "fire [] skip 1 (1) waiting false"},
		{"Forbid, Latest: waits", situation{now: at(1, 0), active: 1, policy: v1alpha1.ConcurrencyForbid}, "fire [] skip - waiting true"},
		{"Forbid, Latest: the run ended, the latest runs", situation{now: at(3, 20), policy: v1alpha1.ConcurrencyForbid}, "fire [3] skip 2 (0+) waiting false"},
		{"Forbid, All: oldest first", situation{now: at(3, 20), policy: v1alpha1.ConcurrencyForbid, catchup: v1alpha1.CatchupAll, maxCatchup: 100}, "fire [1] skip - waiting true"},
		{"Allow 2 with one active", situation{now: at(1, 0), active: 1, maxConcurrency: 2}, "fire [1] skip - waiting false"},
		{"Replace", situation{now: at(1, 0), active: 1, policy: v1alpha1.ConcurrencyReplace}, "fire [1] skip - waiting false replace"},
		{"Replace with None after an outage", situation{now: at(3, 10), started: at(3, 10), active: 1, policy: v1alpha1.ConcurrencyReplace, catchup: v1alpha1.CatchupNone}, "fire [] skip 3 (1+) waiting false"},

		// startingDeadline.
		{"deadline passed", situation{now: at(1, 45), deadline: 30 * time.Second}, "fire [] skip 1 (1) waiting false"},
		{"deadline kept", situation{now: at(1, 20), deadline: 30 * time.Second}, "fire [1] skip - waiting false"},
		{"deadline with All drops the old ones", situation{now: at(5, 10), started: at(5, 10), catchup: v1alpha1.CatchupAll, maxCatchup: 100, maxConcurrency: 10, deadline: 2 * time.Minute}, "fire [4 5] skip 3 (3) waiting false"},
		{"Forbid with a deadline keeps later fires", situation{now: at(4, 5), policy: v1alpha1.ConcurrencyForbid, deadline: 30 * time.Second, cursor: at(3, 0)}, "fire [4] skip - waiting false"},

		// endTime.
		{"nothing after the end", situation{now: at(5, 10), end: at(2, 30), cursor: at(2, 0)}, "fire [] skip - waiting false"},
		{"the last fire before the end", situation{now: at(5, 10), end: at(2, 30), cursor: at(1, 0), started: at(0, 0)}, "fire [2] skip - waiting false"},
	}
	for _, c := range cases {
		s := c.s
		s.trigger = everyMinute
		if s.cursor.IsZero() {
			s.cursor = at(0, 0)
		}
		got := describe(decide(s), at(0, 0))
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// describe renders a decision as minutes past the base time.
func describe(d decision, base time.Time) string {
	var fire []string
	for _, f := range d.fire {
		fire = append(fire, fmt.Sprint(int(f.Sub(base).Minutes())))
	}
	skip := "-"
	if !d.skipThrough.IsZero() {
		plus := ""
		if d.skippedMore {
			plus = "+"
		}
		skip = fmt.Sprintf("%d (%d%s)", int(d.skipThrough.Sub(base).Minutes()), d.skipped, plus)
	}
	s := fmt.Sprintf("fire [%s] skip %s waiting %v", strings.Join(fire, " "), skip, d.waiting)
	if d.replace {
		s += " replace"
	}
	return s
}
