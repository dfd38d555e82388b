package schedules_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Schedules and runs with this label are driven by a `kfstack-runtime
// controller` process of the test (--run-selector); no in-process
// controller sees them.
const (
	labelController      = "test.kfstack.dev/controller"
	subprocessController = "subprocess"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// runtimeBinary builds kfstack-runtime once for the package's tests.
func runtimeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testcluster.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(workDir, "kfstack-runtime")
		build := exec.Command("go", "build", "-o", binPath, "./runtime/cmd/kfstack-runtime")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building kfstack-runtime: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// controllerProcess runs `kfstack-runtime controller` for the labelled
// schedules and runs.
func controllerProcess(t *testing.T, bin, logName string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "controller", "--run-selector", labelController+"="+subprocessController,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--workdir", filepath.Join(workDir, "subprocess"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+controllerKubeconfig) // as its ServiceAccount
	log, err := os.Create(filepath.Join(t.TempDir(), logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestKillNineAroundAFire kills the controller process with SIGKILL just
// before fires and just after them (as soon as a fire's run exists,
// before the controller can record it), twice each, on a schedule firing
// every two seconds. With catchup All, every fire from the first to the
// last makes exactly one run: none lost, none twice.
func TestKillNineAroundAFire(t *testing.T) {
	bin := runtimeBinary(t)
	ns := namespace(t)
	g := newGates(t)
	g.openAll(t, 200)
	proc := controllerProcess(t, bin, "controller-0.log")
	create(t, newSchedule(ns, "every2s", g, func(s *v1alpha1.Schedule) {
		s.Labels = map[string]string{labelController: subprocessController}
		s.Spec.Cron, s.Spec.CronSeconds = []string{"*/2 * * * * *"}, true
		s.Spec.Catchup, s.Spec.MaxConcurrency = v1alpha1.CatchupAll, 50
		s.Spec.SuccessfulRunsHistoryLimit = ptr.To[int32](1000)
	}))
	eventually(t, time.Minute, func() (bool, string) {
		n := len(fireTimes(t, ns, "every2s"))
		return n >= 2, fmt.Sprintf("%d runs", n)
	})
	for i := range 4 {
		if i%2 == 0 {
			// Just before: 100 ms before the next even second.
			next := time.Now().Truncate(2 * time.Second).Add(2 * time.Second)
			if time.Until(next) < 300*time.Millisecond {
				next = next.Add(2 * time.Second)
			}
			time.Sleep(time.Until(next.Add(-100 * time.Millisecond)))
			kill(t, proc)
			t.Logf("killed before the fire at %s", next.Format("15:04:05"))
		} else {
			// Just after: as soon as a new run exists.
			before := len(fireTimes(t, ns, "every2s"))
			for len(fireTimes(t, ns, "every2s")) == before {
				time.Sleep(2 * time.Millisecond)
			}
			kill(t, proc)
			runs := fireTimes(t, ns, "every2s")
			recorded := get(t, ns, "every2s").Status.LastScheduleTime
			t.Logf("killed after the fire at %s, at %s; the status had recorded up to %s", runs[len(runs)-1].Format("15:04:05"),
				time.Now().Format("15:04:05.000"), recorded.UTC().Format("15:04:05"))
		}
		time.Sleep(3 * time.Second) // fires pass while no controller runs
		proc = controllerProcess(t, bin, fmt.Sprintf("controller-%d.log", i+1))
		eventually(t, time.Minute, func() (bool, string) {
			return contiguous(fireTimes(t, ns, "every2s"), time.Now().Add(-time.Second))
		})
	}
	// A run whose local process died with a controller fails; every run
	// is counted once either way.
	update(t, ns, "every2s", func(s *v1alpha1.Schedule) { s.Spec.Suspend = true })
	waitStatus(t, ns, "every2s", "every run counted once", func(st *v1alpha1.ScheduleStatus) bool {
		runs := fireTimes(t, ns, "every2s")
		return len(st.Active) == 0 && st.SucceededRuns+st.FailedRuns == int64(len(runs)) && st.LastRunIndex == int64(len(runs))
	})
}

// contiguous reports whether the fire times are every two seconds, with
// no gap, up to at least until.
func contiguous(times []time.Time, until time.Time) (bool, string) {
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d != 2*time.Second {
			return false, fmt.Sprintf("a gap of %s after %s: %s", d, times[i-1].Format("15:04:05"), fmtTimes(times))
		}
	}
	if len(times) == 0 || times[len(times)-1].Before(until.Add(-2*time.Second)) {
		return false, fmt.Sprintf("not caught up to %s: %s", until.Format("15:04:05"), fmtTimes(times))
	}
	return true, ""
}
