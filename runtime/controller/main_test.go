package controller_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/runtimetest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/mpijob"
)

var (
	k8s     client.Client
	cluster *testcluster.Cluster
	// commandDir is the working directory of local task commands; it holds
	// run.sh, which an upstream container component calls.
	commandDir string
	// workDir holds the tests' files.
	workDir string
	// controllerSettings describes the in-process controller, for
	// benchmark output.
	controllerSettings string
	// testOptions are the in-process controller's options (the webhook
	// tests serve admission with them).
	testOptions controller.Options
	// managerCache is the in-process manager's informer cache.
	managerCache cache.Cache
	// controllerConfig impersonates the controller's ServiceAccount;
	// controllerKubeconfig is a kubeconfig that does, for controller
	// processes.
	controllerConfig     *rest.Config
	controllerKubeconfig string
)

func TestMain(m *testing.M) {
	// A proxy in front of etcd lets the fault tests slow it down.
	testcluster.RunMainWithOptions(m, testcluster.Options{EtcdProxy: true}, func(c *testcluster.Cluster) {
		cluster = c
		if err := setup(c); err != nil {
			panic(err)
		}
	})
}

func setup(c *testcluster.Cluster) error {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	var err error
	k8s, err = client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if v, err := strconv.Atoi(os.Getenv("KFSTACK_TEST_LOG")); err == nil {
		ctrl.SetLogger(textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(v))))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	if err := installCRDs(ctx, k8s); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "kfstack-controller-test-")
	if err != nil {
		return err
	}
	workDir = work
	commandDir, err = standIns(work)
	if err != nil {
		return err
	}
	// Runs labelled for a separate controller process (the restart test)
	// are not this one's.
	sel, err := labels.Parse(labelController + "!=" + subprocessController)
	if err != nil {
		return err
	}
	// KFSTACK_TEST_QPS sets the controller's client rate limit (default:
	// the cluster config's 200 QPS, burst 400; -1: none, as
	// kfstack-runtime controller's default), for benchmarks.
	// The controller runs as the ServiceAccount kubeflow_runtime installs,
	// with exactly its RBAC: a verb the markers lack fails a test here.
	asController, err := runtimetest.ControllerConfig(ctx, c.Config, runtimetest.Namespace)
	if err != nil {
		return err
	}
	// It allows the local executor (below), as make demo's does.
	if err := runtimetest.AllowLocalExecutor(ctx, c.Config, runtimetest.Namespace); err != nil {
		return err
	}
	controllerConfig = asController
	controllerKubeconfig = filepath.Join(work, "controller.kubeconfig")
	if err := runtimetest.WriteKubeconfig(asController, controllerKubeconfig); err != nil {
		return err
	}
	mcfg := rest.CopyConfig(asController)
	if q := envInt("KFSTACK_TEST_QPS"); q > 0 {
		mcfg.QPS, mcfg.Burst = float32(q), 2*q
	} else if q < 0 {
		// The controller's default: no client-side limit.
		mcfg.QPS, mcfg.Burst = -1, 0
	}
	controllerSettings = fmt.Sprintf("in-process controller: %d runs reconciled at once, client %.0f QPS (burst %d), max running tasks %d",
		workers(envInt("KFSTACK_TEST_WORKERS")), mcfg.QPS, mcfg.Burst, envInt("KFSTACK_TEST_MAX_RUNNING"))
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme: scheme,
		// As kfstack-runtime controller with MPIJobs on: the manager's
		// ConfigMap selector is the MPIJob controller's, and the version
		// ConfigMaps must be seen all the same.
		Cache:                  mpijob.CacheOptions(controller.CacheOptions(sel)),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	testOptions = controller.Options{
		RuntimeImage:    "kfstack-runtime:test",
		WorkDir:         filepath.Join(work, "runs"),
		LocalCommandDir: commandDir,
		PipelineRoot:    "file://" + filepath.Join(work, "artifacts"),
		// The container pipelines run as local processes of this test
		// (KWOK runs no containers): the local executor is allowed here,
		// as make demo allows it, and nowhere in a shared cluster.
		AllowLocalExecutor: true,
		// Tests give runs their own roots in temporary directories.
		AllowedFileRoots: []string{os.TempDir()},
		LostPodGrace:     500 * time.Millisecond,
		RunSelector:      sel,
		// KFSTACK_TEST_WORKERS sets the runs reconciled at once (default 4,
		// as the controller's --max-concurrent-runs), for benchmarks.
		MaxConcurrentReconciles: envInt("KFSTACK_TEST_WORKERS"),
		// KFSTACK_TEST_MAX_RUNNING sets --max-running-tasks, for benchmarks.
		MaxRunningTasks: envInt("KFSTACK_TEST_MAX_RUNNING"),
	}
	if err := controller.Setup(mgr, testOptions); err != nil {
		return err
	}
	managerCache = mgr.GetCache()
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// envInt reads an integer from the environment (0 when unset).
func envInt(name string) int {
	v, _ := strconv.Atoi(os.Getenv(name))
	return v
}

// installCRDs creates the generated CRDs and waits until they serve.
func installCRDs(ctx context.Context, c client.Client) error {
	all, err := crds.All()
	if err != nil {
		return err
	}
	for _, crd := range all {
		if err := c.Create(ctx, crd); err != nil {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), got); err == nil {
				for _, cond := range got.Status.Conditions {
					if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
						goto established
					}
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established", crd.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	established:
	}
	return nil
}

// standIns puts on PATH the programs some upstream container components
// call (their images would ship them), and returns a command directory
// holding run.sh.
func standIns(work string) (string, error) {
	bin := filepath.Join(work, "bin")
	dir := filepath.Join(work, "cmd")
	files := map[string]string{filepath.Join(dir, "run.sh"): kfptest.RunSh}
	for name, program := range kfptest.Programs {
		files[filepath.Join(bin, name)] = program
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			return "", err
		}
	}
	return dir, os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

var nsCounter atomic.Int32

// namespace creates a namespace for one test.
func namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("ctrl-%d-%d", time.Now().Unix()%100000, nsCounter.Add(1))
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func createPipeline(t testing.TB, ns, name, spec, dag string) {
	t.Helper()
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.PipelineSpec{Spec: spec, DAG: dag}}
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatalf("creating pipeline %s: %v", name, err)
	}
}

func createRun(t testing.TB, ns, name, pipeline string, exec v1alpha1.Executor, params map[string]string, mutate ...func(*v1alpha1.PipelineRun)) {
	t.Helper()
	r := &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.PipelineRunSpec{Pipeline: pipeline, Executor: exec, Parameters: params},
	}
	for _, m := range mutate {
		m(r)
	}
	if err := k8s.Create(context.Background(), r); err != nil {
		t.Fatalf("creating run %s: %v", name, err)
	}
}

// waitRun waits until the run is in a final phase and returns it.
func waitRun(t testing.TB, ns, name string, timeout time.Duration) *v1alpha1.PipelineRun {
	t.Helper()
	return kfptest.WaitRun(t, k8s, ns, name, timeout)
}

func describe(r *v1alpha1.PipelineRun) string {
	s := fmt.Sprintf("phase %s: %s; tasks %v", r.Status.Phase, r.Status.Message, r.Status.Tasks)
	if f := r.Status.Failure; f != nil {
		s += fmt.Sprintf("; failed task %s: %s\n%s", f.Task, f.Message, f.LogTail)
	}
	return s
}

// sharedKFP is ../shared/testdata/kfp next to the repository root.
func sharedKFP(t *testing.T) string { return kfptest.Dir(t) }

func contains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q: %s", what, sub, s)
		}
	}
}

// workers is the controller's MaxConcurrentReconciles for a setting (0:
// the default, 4).
func workers(n int) int {
	if n <= 0 {
		return 4
	}
	return n
}

// attemptPod returns the pod of a task's attempt in the named run (nil, nil
// while there is none): task pods are found by the run's UID label, the
// task annotation and the attempt label, never by a name guessed here.
func attemptPod(ctx context.Context, ns, run, task string, attempt int) (*corev1.Pod, error) {
	r := &v1alpha1.PipelineRun{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: run}, r); err != nil {
		return nil, err
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID), v1alpha1.LabelAttempt: strconv.Itoa(attempt)}); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if pods.Items[i].Annotations[v1alpha1.AnnotationTask] == task {
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// waitAttemptPod waits until the pod of a task's attempt runs, and
// returns it.
func waitAttemptPod(t *testing.T, ns, run, task string, attempt int) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pod, err := attemptPod(context.Background(), ns, run, task, attempt)
		if err == nil && pod != nil && pod.Status.Phase == corev1.PodRunning {
			return pod
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod of %s attempt %d in run %s is not running (%v, %v)", task, attempt, run, pod, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
