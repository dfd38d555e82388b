package schedules_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

// TestFiresOnTime: a fire makes one run at its time, named by it, owned
// by the schedule, with its macros expanded; the status follows.
func TestFiresOnTime(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	clk, f1 := fakeClock()
	startController(t, ns, clk)
	s := create(t, newSchedule(ns, "hourly", g, func(s *v1alpha1.Schedule) {
		s.Spec.TimeZone = "Europe/Berlin"
		s.Spec.Run.Parameters["note"] = "[[ScheduledTime.2006-01-02T15:04:05Z07:00]] #[[Index]] [[ScheduledTime]]"
		s.Spec.Run.Experiment = "nightly"
	}))
	waitStatus(t, ns, "hourly", "the next fire times", func(st *v1alpha1.ScheduleStatus) bool {
		return len(st.NextScheduleTimes) == 3 && st.NextScheduleTimes[0].Equal(&metav1.Time{Time: f1}) &&
			conditionIs(st, v1alpha1.ScheduleConditionReady, metav1.ConditionTrue, v1alpha1.ScheduleReasonScheduling)
	})
	consistently(t, 300*time.Millisecond, func() (bool, string) {
		return len(runsOf(t, ns, "hourly")) == 0, "a run before the first fire"
	})

	clk.SetTime(f1)
	waitFires(t, ns, "hourly", f1)
	run := runsOf(t, ns, "hourly")[0]
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := f1.In(berlin).Format("2006-01-02T15:04:05Z07:00") + " #1 " + f1.In(berlin).Format("20060102150405")
	switch {
	case run.Name != schedule.RunName("hourly", f1):
		t.Errorf("run name %s", run.Name)
	case !metav1.IsControlledBy(&run, s) || !*metav1.GetControllerOf(&run).BlockOwnerDeletion:
		t.Errorf("owner references %+v", run.OwnerReferences)
	case run.Spec.Parameters["note"] != want:
		t.Errorf("note = %q, want %q", run.Spec.Parameters["note"], want)
	case run.Spec.PipelineVersion != 1:
		t.Errorf("pipelineVersion %d, want the latest at the fire, 1", run.Spec.PipelineVersion)
	case run.Spec.Experiment != "nightly" || run.Labels[v1alpha1.LabelExperiment] != "nightly" || run.Annotations[v1alpha1.AnnotationScheduledTime] != f1.UTC().Format(time.RFC3339):
		t.Errorf("labels %v, annotations %v", run.Labels, run.Annotations)
	}
	st := waitStatus(t, ns, "hourly", "run 1 active", func(st *v1alpha1.ScheduleStatus) bool {
		return slices.Equal(st.Active, []string{run.Name}) && st.LastScheduleTime.Equal(&metav1.Time{Time: f1}) && st.LastRunIndex == 1
	}).Status
	if !st.NextScheduleTimes[0].Equal(&metav1.Time{Time: f1.Add(time.Minute)}) {
		t.Errorf("next %v", st.NextScheduleTimes)
	}

	clk.SetTime(f1.Add(30 * time.Second))
	g.open(t, 1, "ok")
	waitStatus(t, ns, "hourly", "run 1 counted", func(st *v1alpha1.ScheduleStatus) bool {
		return len(st.Active) == 0 && st.SucceededRuns == 1
	})
	clk.SetTime(f1.Add(time.Minute))
	waitFires(t, ns, "hourly", f1, f1.Add(time.Minute))
}

// TestCatchupAfterOutage stops the controller after one fire, lets five
// fires pass, and starts a new one: None runs none of them, Latest the
// last, All every one.
func TestCatchupAfterOutage(t *testing.T) {
	cases := []struct {
		catchup v1alpha1.CatchupPolicy
		max     int32
		// after the restart, minutes after f1 whose fires run
		want []int
	}{
		{v1alpha1.CatchupNone, 10, nil},
		{v1alpha1.CatchupLatest, 10, []int{5}},
		{v1alpha1.CatchupAll, 10, []int{1, 2, 3, 4, 5}},
	}
	for _, c := range cases {
		t.Run(string(c.catchup), func(t *testing.T) {
			ns := namespace(t)
			g := newGates(t)
			g.openAll(t, 20)
			clk, f1 := fakeClock()
			first := startController(t, ns, clk)
			create(t, newSchedule(ns, "outage", g, func(s *v1alpha1.Schedule) {
				s.Spec.Catchup, s.Spec.MaxConcurrency = c.catchup, c.max
			}))
			waitStatus(t, ns, "outage", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
			clk.SetTime(f1)
			waitFires(t, ns, "outage", f1)
			first.stop()

			clk.SetTime(f1.Add(5*time.Minute + 10*time.Second))
			startController(t, ns, clk)
			want := []time.Time{f1}
			for _, m := range c.want {
				want = append(want, f1.Add(time.Duration(m)*time.Minute))
			}
			waitFires(t, ns, "outage", want...)
			consistently(t, 500*time.Millisecond, func() (bool, string) {
				got := fireTimes(t, ns, "outage")
				return len(got) == len(want), fmt.Sprintf("more runs: %s", fmtTimes(got))
			})
			// The next fire runs under every policy.
			clk.SetTime(f1.Add(6 * time.Minute))
			waitFires(t, ns, "outage", append(want, f1.Add(6*time.Minute))...)
		})
	}
}

// TestCatchupAllIsPacedByForbid: with Forbid, missed fires run one after
// another, oldest first, each when the previous run ends.
func TestCatchupAllIsPacedByForbid(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	clk, f1 := fakeClock()
	first := startController(t, ns, clk)
	create(t, newSchedule(ns, "paced", g, func(s *v1alpha1.Schedule) {
		s.Spec.Catchup, s.Spec.ConcurrencyPolicy = v1alpha1.CatchupAll, v1alpha1.ConcurrencyForbid
	}))
	waitStatus(t, ns, "paced", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
	clk.SetTime(f1)
	waitFires(t, ns, "paced", f1)
	first.stop()
	clk.SetTime(f1.Add(3*time.Minute + 10*time.Second))
	startController(t, ns, clk)
	want := []time.Time{f1}
	for i := 1; i <= 3; i++ {
		consistently(t, 300*time.Millisecond, func() (bool, string) {
			got := fireTimes(t, ns, "paced")
			return len(got) == i, fmt.Sprintf("run %d started before run %d ended: %s", i+1, i, fmtTimes(got))
		})
		g.open(t, i, "ok")
		want = append(want, f1.Add(time.Duration(i)*time.Minute))
		waitFires(t, ns, "paced", want...)
	}
}

// TestForbidWithALongRun: fires while a run runs are held back; when it
// ends, Latest makes one run for the latest of them and None none.
func TestForbidWithALongRun(t *testing.T) {
	for _, catchup := range []v1alpha1.CatchupPolicy{v1alpha1.CatchupLatest, v1alpha1.CatchupNone} {
		t.Run(string(catchup), func(t *testing.T) {
			ns := namespace(t)
			g := newGates(t)
			clk, f1 := fakeClock()
			startController(t, ns, clk)
			create(t, newSchedule(ns, "long", g, func(s *v1alpha1.Schedule) {
				s.Spec.ConcurrencyPolicy, s.Spec.Catchup = v1alpha1.ConcurrencyForbid, catchup
			}))
			waitStatus(t, ns, "long", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
			clk.SetTime(f1)
			waitFires(t, ns, "long", f1)
			for m := 1; m <= 2; m++ {
				clk.SetTime(f1.Add(time.Duration(m) * time.Minute))
				consistently(t, 300*time.Millisecond, func() (bool, string) {
					got := fireTimes(t, ns, "long")
					return len(got) == 1, fmt.Sprintf("a run while the first runs: %s", fmtTimes(got))
				})
			}
			g.open(t, 1, "ok")
			want := []time.Time{f1}
			if catchup == v1alpha1.CatchupLatest {
				want = append(want, f1.Add(2*time.Minute))
			}
			waitFires(t, ns, "long", want...)
			st := waitStatus(t, ns, "long", "skipped", func(st *v1alpha1.ScheduleStatus) bool {
				return st.SkippedThrough != nil && !st.SkippedThrough.Before(&metav1.Time{Time: f1.Add(time.Minute)})
			}).Status
			t.Logf("skippedThrough %s", st.SkippedThrough.UTC())
			// Later fires are not lost (argoproj/argo-workflows#6778).
			g.open(t, 2, "ok")
			waitStatus(t, ns, "long", "no run active", func(st *v1alpha1.ScheduleStatus) bool { return len(st.Active) == 0 })
			clk.SetTime(f1.Add(3 * time.Minute))
			waitFires(t, ns, "long", append(want, f1.Add(3*time.Minute))...)
		})
	}
}

// TestReplaceCancelsTheRunningRun: the new fire's run starts and the old
// one is cancelled through its spec.cancel.
func TestReplaceCancelsTheRunningRun(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	clk, f1 := fakeClock()
	startController(t, ns, clk)
	create(t, newSchedule(ns, "replace", g, func(s *v1alpha1.Schedule) { s.Spec.ConcurrencyPolicy = v1alpha1.ConcurrencyReplace }))
	waitStatus(t, ns, "replace", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
	clk.SetTime(f1)
	waitFires(t, ns, "replace", f1)
	first := schedule.RunName("replace", f1)
	waitPhase(t, ns, first, v1alpha1.RunRunning)
	clk.SetTime(f1.Add(time.Minute))
	waitFires(t, ns, "replace", f1, f1.Add(time.Minute))
	waitPhase(t, ns, first, v1alpha1.RunCancelled)
	g.open(t, 2, "ok")
	waitStatus(t, ns, "replace", "the second counted, the first neither", func(st *v1alpha1.ScheduleStatus) bool {
		return len(st.Active) == 0 && st.SucceededRuns == 1 && st.FailedRuns == 0
	})
}

// TestSuspendResume: a resumed schedule does not replay the suspended
// period, unless catchup All and catchupFromSuspended ask for it.
func TestSuspendResume(t *testing.T) {
	for _, replay := range []bool{false, true} {
		t.Run(fmt.Sprintf("catchupFromSuspended=%v", replay), func(t *testing.T) {
			ns := namespace(t)
			g := newGates(t)
			g.openAll(t, 20)
			clk, f1 := fakeClock()
			startController(t, ns, clk)
			create(t, newSchedule(ns, "pause", g, func(s *v1alpha1.Schedule) {
				s.Spec.MaxConcurrency = 10
				if replay {
					s.Spec.Catchup, s.Spec.CatchupFromSuspended = v1alpha1.CatchupAll, true
				}
			}))
			waitStatus(t, ns, "pause", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
			clk.SetTime(f1)
			waitFires(t, ns, "pause", f1)
			update(t, ns, "pause", func(s *v1alpha1.Schedule) { s.Spec.Suspend = true })
			waitStatus(t, ns, "pause", "suspended", func(st *v1alpha1.ScheduleStatus) bool {
				return conditionIs(st, v1alpha1.ScheduleConditionSuspended, metav1.ConditionTrue, v1alpha1.ScheduleReasonSuspended) && len(st.NextScheduleTimes) == 0
			})
			clk.SetTime(f1.Add(4*time.Minute + 10*time.Second))
			consistently(t, 300*time.Millisecond, func() (bool, string) {
				return len(runsOf(t, ns, "pause")) == 1, "a run while suspended"
			})
			update(t, ns, "pause", func(s *v1alpha1.Schedule) { s.Spec.Suspend = false })
			waitStatus(t, ns, "pause", "resumed", func(st *v1alpha1.ScheduleStatus) bool {
				return conditionIs(st, v1alpha1.ScheduleConditionSuspended, metav1.ConditionFalse, "")
			})
			want := []time.Time{f1}
			if replay {
				for m := 1; m <= 4; m++ {
					want = append(want, f1.Add(time.Duration(m)*time.Minute))
				}
			}
			waitFires(t, ns, "pause", want...)
			consistently(t, 300*time.Millisecond, func() (bool, string) {
				got := fireTimes(t, ns, "pause")
				return len(got) == len(want), "replayed: " + fmtTimes(got)
			})
			clk.SetTime(f1.Add(5 * time.Minute))
			waitFires(t, ns, "pause", append(want, f1.Add(5*time.Minute))...)
		})
	}
}

// TestHistoryLimits keeps the newest succeeded and failed runs only, and
// counts them all.
func TestHistoryLimits(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	results := []string{"ok", "fail", "ok", "fail", "ok", "ok"}
	for i, r := range results {
		g.open(t, i+1, r)
	}
	clk, f1 := fakeClock()
	startController(t, ns, clk)
	create(t, newSchedule(ns, "history", g, func(s *v1alpha1.Schedule) {
		s.Spec.SuccessfulRunsHistoryLimit, s.Spec.FailedRunsHistoryLimit = ptr.To[int32](2), ptr.To[int32](1)
	}))
	waitStatus(t, ns, "history", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
	for i := range results {
		clk.SetTime(f1.Add(time.Duration(i) * time.Minute))
		waitStatus(t, ns, "history", fmt.Sprintf("run %d counted", i+1), func(st *v1alpha1.ScheduleStatus) bool {
			return st.SucceededRuns+st.FailedRuns == int64(i+1) && len(st.Active) == 0
		})
	}
	st := get(t, ns, "history").Status
	if st.SucceededRuns != 4 || st.FailedRuns != 2 || st.ConsecutiveFailures != 0 {
		t.Errorf("counts %d/%d/%d", st.SucceededRuns, st.FailedRuns, st.ConsecutiveFailures)
	}
	// Kept: the failed run of minute 3, the succeeded ones of 4 and 5.
	waitFires(t, ns, "history", f1.Add(3*time.Minute), f1.Add(4*time.Minute), f1.Add(5*time.Minute))
}

// TestUpdateInPlaceDuringARun changes the cron, the zone and the
// parameters while a run runs: the schedule keeps its UID, the run goes
// on untouched, and the next fire follows the new spec.
func TestUpdateInPlaceDuringARun(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	clk, f1 := fakeClock()
	startController(t, ns, clk)
	orig := create(t, newSchedule(ns, "change", g, func(s *v1alpha1.Schedule) { s.Spec.MaxConcurrency = 5 }))
	waitStatus(t, ns, "change", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
	clk.SetTime(f1)
	waitFires(t, ns, "change", f1)
	first := schedule.RunName("change", f1)
	waitPhase(t, ns, first, v1alpha1.RunRunning)

	clk.SetTime(f1.Add(20 * time.Second))
	changed := update(t, ns, "change", func(s *v1alpha1.Schedule) {
		s.Spec.Cron = []string{"*/5 * * * *"}
		s.Spec.TimeZone = "America/New_York"
		s.Spec.Run.Parameters["note"] = "v2"
	})
	if changed.UID != orig.UID {
		t.Fatal("the schedule was replaced")
	}
	next := f1.Truncate(5 * time.Minute).Add(5 * time.Minute)
	waitStatus(t, ns, "change", "the new fire times", func(st *v1alpha1.ScheduleStatus) bool {
		return st.ObservedGeneration == changed.Generation && len(st.NextScheduleTimes) > 0 && st.NextScheduleTimes[0].Equal(&metav1.Time{Time: next})
	})
	if next.After(f1.Add(time.Minute)) {
		clk.SetTime(f1.Add(time.Minute)) // a fire of the old cron only
		consistently(t, 300*time.Millisecond, func() (bool, string) {
			return len(runsOf(t, ns, "change")) == 1, "the old cron fired"
		})
	}
	clk.SetTime(next)
	waitFires(t, ns, "change", f1, next)
	runs := runsOf(t, ns, "change")
	if runs[0].Spec.Cancel || runs[0].Status.Phase != v1alpha1.RunRunning || runs[0].Spec.Parameters["note"] != "" {
		t.Errorf("the run in flight changed: cancel %v, phase %s, note %q", runs[0].Spec.Cancel, runs[0].Status.Phase, runs[0].Spec.Parameters["note"])
	}
	if runs[1].Spec.Parameters["note"] != "v2" {
		t.Errorf("the next run has note %q", runs[1].Spec.Parameters["note"])
	}
	g.open(t, 1, "ok")
	waitPhase(t, ns, first, v1alpha1.RunSucceeded)
}

// TestStopAfterFailures suspends the schedule after two failures in a
// row; resuming starts the count again.
func TestStopAfterFailures(t *testing.T) {
	ns := namespace(t)
	g := newGates(t)
	g.open(t, 1, "fail")
	g.open(t, 2, "fail")
	g.open(t, 3, "ok")
	clk, f1 := fakeClock()
	startController(t, ns, clk)
	create(t, newSchedule(ns, "flaky", g, func(s *v1alpha1.Schedule) { s.Spec.StopAfterFailures = 2 }))
	waitStatus(t, ns, "flaky", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
	for m := range 2 {
		clk.SetTime(f1.Add(time.Duration(m) * time.Minute))
		waitStatus(t, ns, "flaky", "a failure counted", func(st *v1alpha1.ScheduleStatus) bool { return st.FailedRuns == int64(m+1) })
	}
	s := waitStatus(t, ns, "flaky", "suspended by failures", func(st *v1alpha1.ScheduleStatus) bool {
		return conditionIs(st, v1alpha1.ScheduleConditionSuspended, metav1.ConditionTrue, v1alpha1.ScheduleReasonTooManyFailures)
	})
	if !s.Spec.Suspend || !strings.Contains(s.Status.LastError, "2 runs failed in a row") {
		t.Errorf("suspend %v, lastError %q", s.Spec.Suspend, s.Status.LastError)
	}
	clk.SetTime(f1.Add(2 * time.Minute))
	consistently(t, 300*time.Millisecond, func() (bool, string) {
		return len(runsOf(t, ns, "flaky")) == 2, "fired while suspended"
	})
	update(t, ns, "flaky", func(s *v1alpha1.Schedule) { s.Spec.Suspend = false })
	waitStatus(t, ns, "flaky", "resumed with a new count", func(st *v1alpha1.ScheduleStatus) bool {
		return st.ConsecutiveFailures == 0 && conditionIs(st, v1alpha1.ScheduleConditionSuspended, metav1.ConditionFalse, "")
	})
	clk.SetTime(f1.Add(3 * time.Minute))
	waitStatus(t, ns, "flaky", "the next run counted", func(st *v1alpha1.ScheduleStatus) bool { return st.SucceededRuns == 1 })
}

// TestTwoControllersNeverFireTwice runs two controllers at once on the
// same schedules, first both active (as two leaders would be in a split
// brain) and then with leader election and a handover between fires:
// every fire makes exactly one run, none is lost.
func TestTwoControllersNeverFireTwice(t *testing.T) {
	t.Run("both active", func(t *testing.T) {
		ns := namespace(t)
		g := newGates(t)
		g.openAll(t, 30)
		clk, f1 := fakeClock()
		startController(t, ns, clk)
		startController(t, ns, clk)
		names := []string{"a", "b", "c"}
		for _, n := range names {
			create(t, newSchedule(ns, n, g, func(s *v1alpha1.Schedule) { s.Spec.MaxConcurrency = 20 }))
			waitStatus(t, ns, n, "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
		}
		var want []time.Time
		for m := range 8 {
			at := f1.Add(time.Duration(m) * time.Minute)
			want = append(want, at)
			clk.SetTime(at)
			for _, n := range names {
				waitFires(t, ns, n, want...)
			}
		}
		for _, n := range names {
			// Two run controllers at once may fail a run (each finds the
			// other's local process missing): the schedule's business is
			// that each run is counted once.
			waitStatus(t, ns, n, "every run counted once", func(st *v1alpha1.ScheduleStatus) bool {
				return st.SucceededRuns+st.FailedRuns == 8 && len(st.Active) == 0 && st.LastRunIndex == 8
			})
		}
	})
	t.Run("leader election", func(t *testing.T) {
		ns := namespace(t)
		g := newGates(t)
		g.openAll(t, 30)
		clk, f1 := fakeClock()
		ctls := []*ctl{startController(t, ns, clk, withLeaderElection("sched-test", ns)), startController(t, ns, clk, withLeaderElection("sched-test", ns))}
		create(t, newSchedule(ns, "led", g, func(s *v1alpha1.Schedule) { s.Spec.MaxConcurrency = 20 }))
		waitStatus(t, ns, "led", "ready", func(st *v1alpha1.ScheduleStatus) bool { return len(st.NextScheduleTimes) > 0 })
		var want []time.Time
		for m := range 6 {
			at := f1.Add(time.Duration(m) * time.Minute)
			want = append(want, at)
			clk.SetTime(at)
			waitFires(t, ns, "led", want...)
			if m == 2 {
				// Stop the leader; the other takes over.
				leader := -1
				eventually(t, 30*time.Second, func() (bool, string) {
					for i, c := range ctls {
						select {
						case <-c.elected:
							leader = i
							return true, ""
						default:
						}
					}
					return false, "no leader"
				})
				ctls[leader].stop()
				ctls = append(ctls, startController(t, ns, clk, withLeaderElection("sched-test", ns)))
			}
		}
	})
}
