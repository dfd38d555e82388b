package schedules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/textlogger"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/internal/runtimetest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/schedule"
)

var (
	k8s     client.Client
	cluster *testcluster.Cluster
	scheme  = runtime.NewScheme()
	workDir string
	// controllerConfig and controllerKubeconfig act as the controller's
	// ServiceAccount.
	controllerConfig     *rest.Config
	controllerKubeconfig string
)

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) {
		cluster = c
		if err := setup(c); err != nil {
			panic(err)
		}
	})
}

func setup(c *testcluster.Cluster) error {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	var err error
	if k8s, err = client.New(c.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if v, err := strconv.Atoi(os.Getenv("KFSTACK_TEST_LOG")); err == nil {
		ctrl.SetLogger(textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(v))))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	if workDir, err = os.MkdirTemp("", "kfstack-schedule-test-"); err != nil {
		return err
	}
	ctx := context.Background()
	if err := crds.Install(ctx, k8s, time.Minute); err != nil {
		return err
	}
	// The controllers run as the ServiceAccount kubeflow_runtime installs,
	// with exactly its RBAC (a verb the markers lack fails a test here),
	// plus what the local executor needs, as make demo's.
	if controllerConfig, err = runtimetest.ControllerConfig(ctx, c.Config, runtimetest.Namespace); err != nil {
		return err
	}
	if err := runtimetest.AllowLocalExecutor(ctx, c.Config, runtimetest.Namespace); err != nil {
		return err
	}
	controllerKubeconfig = filepath.Join(workDir, "controller.kubeconfig")
	return runtimetest.WriteKubeconfig(controllerConfig, controllerKubeconfig)
}

var nsCounter atomic.Int32

// namespace creates a namespace for one test, with the gated pipeline.
func namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("sched-%d-%d", time.Now().Unix()%100000, nsCounter.Add(1))
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "gated"}, Spec: v1alpha1.PipelineSpec{DAG: gatedDAG}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	return name
}

// gatedDAG waits until the file named by its gate parameter exists, and
// succeeds when it holds "ok": the test decides when each run ends, and
// how.
const gatedDAG = `name: gated
parameters:
  gate: {type: string}
  note: {type: string, default: ""}
tasks:
- name: wait
  image: busybox
  command: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.02; done; test "$(cat "$0")" = ok', "{{$.inputs.parameters['gate']}}"]
  inputs: {parameters: {gate: {parameter: gate}}}
`

// gates are the files the runs of one test wait for, by [[Index]].
type gates string

func newGates(t testing.TB) gates {
	dir, err := os.MkdirTemp(workDir, "gates-")
	if err != nil {
		t.Fatal(err)
	}
	return gates(dir)
}

// param is the gate parameter of a schedule: one file per run.
func (g gates) param() string { return filepath.Join(string(g), "[[Index]]") }

// open ends the run with the index: "ok" succeeds, anything else fails.
func (g gates) open(t testing.TB, index int, result string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(string(g), strconv.Itoa(index)), []byte(result), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openAll lets the first upTo runs of the test succeed at once.
func (g gates) openAll(t testing.TB, upTo int) {
	for i := 1; i <= upTo; i++ {
		g.open(t, i, "ok")
	}
}

// ctl is one in-process controller (the runtime's Setup: pipelines, runs
// and schedules) for one namespace, on a fake clock.
type ctl struct {
	stop func()
	// elected is closed once this controller leads.
	elected <-chan struct{}
}

type ctlOption func(*ctrl.Options)

// withLeaderElection elects a leader among the test's controllers, with a
// lease of the test's own (named after ns) where the controller's Role lets
// it keep one: in its namespace.
func withLeaderElection(id string, ns string) ctlOption {
	return func(o *ctrl.Options) {
		o.LeaderElection, o.LeaderElectionID, o.LeaderElectionNamespace = true, id+"-"+ns, runtimetest.Namespace
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = ptr.To(2*time.Second), ptr.To(time.Second), ptr.To(200*time.Millisecond)
		o.LeaderElectionReleaseOnCancel = true
	}
}

// startController runs the runtime's controllers for namespace ns with
// clock clk until stop (or the end of the test).
func startController(t testing.TB, ns string, clk *clocktesting.FakeClock, opts ...ctlOption) *ctl {
	t.Helper()
	co := controller.CacheOptions(nil)
	co.DefaultNamespaces = map[string]cache.Config{ns: {}}
	o := ctrl.Options{
		Scheme:                 scheme,
		Cache:                  co,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	}
	for _, opt := range opts {
		opt(&o)
	}
	mgr, err := ctrl.NewManager(controllerConfig, o)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(workDir, ns)
	if err := controller.Setup(mgr, controller.Options{
		Clock: clk, WorkDir: filepath.Join(work, "runs"), PipelineRoot: "file://" + filepath.Join(work, "artifacts"), LostPodGrace: time.Second,
		// The runs use the local executor (KWOK runs no containers), as
		// make demo does: allowed here, never in a cluster.
		AllowLocalExecutor: true,
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	c := &ctl{elected: mgr.Elected()}
	stopped := false
	c.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	}
	t.Cleanup(c.stop)
	return c
}

// newSchedule returns a schedule of the gated pipeline, firing every
// minute, with the local executor and a gate per run.
func newSchedule(ns, name string, g gates, mutate ...func(*v1alpha1.Schedule)) *v1alpha1.Schedule {
	s := &v1alpha1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ScheduleSpec{
			Cron: []string{"* * * * *"},
			Run: v1alpha1.ScheduleRunTemplate{
				Pipeline: "gated", Executor: v1alpha1.ExecutorLocal,
				Parameters: map[string]string{"gate": g.param()},
			},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func create(t testing.TB, s *v1alpha1.Schedule) *v1alpha1.Schedule {
	t.Helper()
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatalf("creating schedule %s: %v", s.Name, err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
	return s
}

// update changes a schedule, retrying on conflicts.
func update(t testing.TB, ns, name string, mutate func(*v1alpha1.Schedule)) *v1alpha1.Schedule {
	t.Helper()
	for {
		s := get(t, ns, name)
		mutate(s)
		err := k8s.Update(context.Background(), s)
		if err == nil {
			return s
		}
		if !strings.Contains(err.Error(), "the object has been modified") {
			t.Fatalf("updating schedule %s: %v", name, err)
		}
	}
}

func get(t testing.TB, ns, name string) *v1alpha1.Schedule {
	t.Helper()
	s := &v1alpha1.Schedule{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// runsOf lists the schedule's runs, oldest fire first.
func runsOf(t testing.TB, ns, name string) []v1alpha1.PipelineRun {
	t.Helper()
	list := &v1alpha1.PipelineRunList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSchedule: name}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.PipelineRun) int { return strings.Compare(a.Name, b.Name) })
	return list.Items
}

// fireTimes are the fire times of the schedule's runs.
func fireTimes(t testing.TB, ns, name string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, r := range runsOf(t, ns, name) {
		at, ok := schedule.ScheduledTimeOf(name, r.Name)
		if !ok {
			t.Fatalf("run %s is not named by a fire time", r.Name)
		}
		out = append(out, at)
	}
	return out
}

// eventually polls cond until it holds, failing with its last message.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	var msg string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
	}
	t.Fatalf("timed out: %s", msg)
}

// consistently checks that cond holds for the whole duration.
func consistently(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, msg := cond(); !ok {
			t.Fatal(msg)
		}
	}
}

// waitFires waits until the schedule's runs are exactly those of the
// given fire times.
func waitFires(t testing.TB, ns, name string, want ...time.Time) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		got := fireTimes(t, ns, name)
		var phases []string
		for _, r := range runsOf(t, ns, name) {
			phases = append(phases, string(r.Status.Phase))
		}
		return slices.EqualFunc(got, want, time.Time.Equal), fmt.Sprintf("fire times of %s: %s (%v), want %s; status %+v", name, fmtTimes(got), phases, fmtTimes(want), get(t, ns, name).Status)
	})
}

func fmtTimes(ts []time.Time) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.UTC().Format("15:04:05")
	}
	return "[" + strings.Join(s, " ") + "]"
}

// waitPhase waits until the run ends in the given phase.
func waitPhase(t testing.TB, ns, run string, phase v1alpha1.RunPhase) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		r := &v1alpha1.PipelineRun{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: run}, r); err != nil {
			return false, err.Error()
		}
		return r.Status.Phase == phase, fmt.Sprintf("run %s is %s (%s), want %s", run, r.Status.Phase, r.Status.Message, phase)
	})
}

// waitStatus waits until the schedule's status satisfies cond.
func waitStatus(t testing.TB, ns, name string, what string, cond func(*v1alpha1.ScheduleStatus) bool) *v1alpha1.Schedule {
	t.Helper()
	var s *v1alpha1.Schedule
	eventually(t, 30*time.Second, func() (bool, string) {
		s = get(t, ns, name)
		return cond(&s.Status), fmt.Sprintf("schedule %s: want %s; status %+v", name, what, s.Status)
	})
	return s
}

func conditionIs(st *v1alpha1.ScheduleStatus, typ string, status metav1.ConditionStatus, reason string) bool {
	c := apimeta.FindStatusCondition(st.Conditions, typ)
	return c != nil && c.Status == status && (reason == "" || c.Reason == reason)
}

// fakeClock starts a clock a second past now (real time: the API server
// stamps creation times with it, so a schedule made next is not created
// after the clock) and returns it with the next whole minute after it,
// the first fire of an every-minute schedule made now. Near the end of a
// minute it first waits for the next one: the schedule must be created
// before that first fire, and no minute may begin between its creation
// and the clock, or that minute would be due at once.
func fakeClock() (*clocktesting.FakeClock, time.Time) {
	const margin = 10 * time.Second
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < margin {
		time.Sleep(left + 100*time.Millisecond)
	}
	now := time.Now().Add(time.Second)
	return clocktesting.NewFakeClock(now), now.Truncate(time.Minute).Add(time.Minute)
}
