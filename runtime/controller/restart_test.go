package controller_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Runs with this label are driven by a controller process of the test
// (kfstack-runtime controller), not by the in-process manager.
const (
	labelController      = "test.kfstack.dev/controller"
	subprocessController = "subprocess"
)

const chainDAG = `name: chain
tasks:
- name: one
  image: registry.example/step:1
  command: [step]
- name: two
  image: registry.example/step:1
  command: [step]
  dependsOn: [one]
- name: three
  image: registry.example/step:1
  command: [step]
  dependsOn: [two]
`

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

// controllerProcess runs `kfstack-runtime controller` against the test
// cluster, as the installed ServiceAccount (controllerKubeconfig), for the
// runs labelled for it; extra flags follow the defaults.
func controllerProcess(t *testing.T, bin string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"controller", "--run-selector", labelController + "=" + subprocessController,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--runtime-image", "kfstack-runtime:test",
		"--pipeline-root", testOptions.PipelineRoot}, extra...)
	// The same file:// roots as the in-process controller: runs in tests
	// have their own in temporary directories.
	for _, dir := range testOptions.AllowedFileRoots {
		args = append(args, "--allowed-file-root", dir)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+controllerKubeconfig)
	log, err := os.Create(filepath.Join(t.TempDir(), "controller.log"))
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

// TestRestartSafety kills the controller with SIGKILL while a task pod
// runs; the new controller adopts the pod, finishes the run, and no task
// runs twice.
func TestRestartSafety(t *testing.T) {
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, succeed)
	prog.hold("two", true)
	createPipeline(t, ns, "chain", "", chainDAG)
	first := controllerProcess(t, bin)
	createRun(t, ns, "survivor", "chain", v1alpha1.ExecutorPod, nil, func(r *v1alpha1.PipelineRun) {
		r.Labels = map[string]string{labelController: subprocessController}
	})

	// Wait for task two's pod to run, then kill the controller.
	waitAttemptPod(t, ns, "survivor", "two", 1)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	// Task two finishes while no controller runs; a new one takes over.
	prog.hold("two", false)
	controllerProcess(t, bin)
	r := waitRun(t, ns, "survivor", time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Tasks["Succeeded"] != 3 {
		t.Fatalf("after the restart: %s", describe(r))
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	if len(pods.Items) != 3 {
		t.Errorf("pods %v: want exactly one per task (no task ran twice)", names)
	}
}
