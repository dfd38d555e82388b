package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// playTaskPods plays the programs of the namespace's task pods on the
// simulated nodes until the test ends: for every new task pod it does what
// `kfstack-runtime launch` does in the pod, on this machine (the task's
// command runs as a local process; artifacts go through the pipeline
// root), and hands the launcher's termination message to KWOK
// (testcluster.FinishTaskPod), which ends the pod as the kubelet would.
func playTaskPods(t *testing.T, ns string) {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(testCluster.Client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = v1alpha1.LabelRunUID }))
	pods := make(chan *corev1.Pod, 256)
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			pods <- pod
		}
	}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case pod := <-pods:
				if err := launchLocally(pod, t.TempDir()); err != nil {
					t.Errorf("playing pod %s: %v", pod.Name, err)
				}
			}
		}
	}()
	factory.Start(stop)
	t.Cleanup(func() {
		close(stop)
		factory.Shutdown()
		<-done
	})
}

// launchLocally runs a task pod's attempt through the launcher on this
// machine and ends the pod with the launcher's result.
func launchLocally(pod *corev1.Pod, work string) error {
	var spec launcher.TaskSpec
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == controller.TaskSpecEnv {
			if err := json.Unmarshal([]byte(e.Value), &spec); err != nil {
				return err
			}
		}
	}
	if spec.Container == nil {
		return errors.New("the pod carries no task spec")
	}
	ctx := context.Background()
	run, err := spec.TaskRun()
	if err != nil {
		return err
	}
	store, err := launcher.OpenStore(ctx, spec.PipelineRoot, launcher.StoreOptions{ForeignReads: true})
	if err != nil {
		return err
	}
	defer store.Close()
	res, runErr := launcher.Run(ctx, run, launcher.Config{Mode: launcher.LocalMode, PipelineRoot: spec.PipelineRoot, WorkDir: work, Dir: work}, store)
	msg, err := launcher.EncodeResult(ctx, store, &spec, res, runErr)
	if err != nil {
		return err
	}
	code := 0
	if runErr != nil {
		code = 1
	}
	err = testcluster.FinishTaskPod(ctx, testCluster.Client, pod.Namespace, pod.Name, testcluster.TaskPodResult{ExitCode: code, Message: string(msg)})
	if err != nil && strings.Contains(err.Error(), "not found") {
		return nil // its run was deleted meanwhile
	}
	return err
}

// stampSpec is a KFP pipeline whose first task writes the run's job UUID
// and a round number into an artifact, which the second task reads back.
const stampSpec = `components:
  comp-stamp:
    executorLabel: exec-stamp
    inputDefinitions:
      parameters:
        round: {parameterType: STRING}
    outputDefinitions:
      artifacts:
        stamp:
          artifactType: {schemaTitle: system.Artifact, schemaVersion: 0.0.1}
      parameters:
        uuid: {parameterType: STRING}
  comp-read:
    executorLabel: exec-read
    inputDefinitions:
      artifacts:
        stamp:
          artifactType: {schemaTitle: system.Artifact, schemaVersion: 0.0.1}
    outputDefinitions:
      parameters:
        text: {parameterType: STRING}
deploymentSpec:
  executors:
    exec-stamp:
      container:
        image: registry.example/stamp:1
        command: [sh, -c, 'set -e; mkdir -p "$(dirname "$2")" "$(dirname "$3")"; printf "%s %s" "$0" "$1" > "$2"; printf "%s" "$0" > "$3"']
        args: ["{{$.pipeline_job_uuid}}", "{{$.inputs.parameters['round']}}", "{{$.outputs.artifacts['stamp'].path}}", "{{$.outputs.parameters['uuid'].output_file}}"]
    exec-read:
      container:
        image: registry.example/stamp:1
        command: [sh, -c, 'set -e; mkdir -p "$(dirname "$1")"; cat "$0" > "$1"']
        args: ["{{$.inputs.artifacts['stamp'].path}}", "{{$.outputs.parameters['text'].output_file}}"]
pipelineInfo:
  name: stamp
root:
  dag:
    outputs:
      parameters:
        uuid: {valueFromParameter: {producerSubtask: stamp, outputParameterKey: uuid}}
        text: {valueFromParameter: {producerSubtask: read, outputParameterKey: text}}
    tasks:
      stamp:
        componentRef: {name: comp-stamp}
        inputs:
          parameters:
            round: {componentInputParameter: round}
        taskInfo: {name: stamp}
      read:
        componentRef: {name: comp-read}
        dependentTasks: [stamp]
        inputs:
          artifacts:
            stamp: {taskOutputArtifact: {producerTask: stamp, outputArtifactKey: stamp}}
        taskInfo: {name: read}
  inputDefinitions:
    parameters:
      round: {parameterType: STRING}
  outputDefinitions:
    parameters:
      uuid: {parameterType: STRING}
      text: {parameterType: STRING}
`

func rerunConfig(ns string, round int) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_pipeline" "stamp" {
  name      = "stamp"
  namespace = %q
  spec      = %q
}

resource "kubeflow_run" "test" {
  name       = "rerun"
  namespace  = %q
  pipeline   = kubeflow_pipeline.stamp.name
  executor   = "pod"
  parameters = { round = "%d" }
}
`, ns, stampSpec, ns, round)
}

// TestAccRun_replacedUnderTheSameName replaces a pod-executor run under
// the same name five times in a row: each run's pods are its own (named
// and labelled with its UID, none of a predecessor left), its artifacts
// are under its own UID and its job UUID is its UID, and every earlier
// run's artifacts are still there, untouched.
func TestAccRun_replacedUnderTheSameName(t *testing.T) {
	ns := pipelineNamespace(t)
	playTaskPods(t, ns)
	ctx := context.Background()
	var uids []string
	check := func(round int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			run := &v1alpha1.PipelineRun{}
			if err := runtimeClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rerun"}, run); err != nil {
				return err
			}
			uid := string(run.UID)
			for _, old := range uids {
				if old == uid {
					return fmt.Errorf("round %d: the run has the UID of an earlier round", round)
				}
			}
			uids = append(uids, uid)
			if got := run.Status.Outputs["uuid"]; got != fmt.Sprintf("%q", uid) {
				return fmt.Errorf("round %d: pipeline_job_uuid %s, want the run's UID %s", round, got, uid)
			}
			if got, want := run.Status.Outputs["text"], fmt.Sprintf("%q", fmt.Sprintf("%s %d", uid, round)); got != want {
				return fmt.Errorf("round %d: the second task read %s from the artifact, want %s", round, got, want)
			}
			// Every pod in the namespace is this run's: none of an
			// earlier run is left, and this one's carry its UID.
			pods := &corev1.PodList{}
			if err := runtimeClient.List(ctx, pods, client.InNamespace(ns)); err != nil {
				return err
			}
			if len(pods.Items) != 2 {
				return fmt.Errorf("round %d: %d pods in the namespace, want this run's two", round, len(pods.Items))
			}
			for _, p := range pods.Items {
				if !metav1.IsControlledBy(&p, run) || p.Labels[v1alpha1.LabelRunUID] != uid || !strings.Contains(p.Name, strings.ReplaceAll(uid, "-", "")[:8]) {
					return fmt.Errorf("round %d: pod %s (labels %v) is not this run's", round, p.Name, p.Labels)
				}
			}
			// The artifacts of this round and of every earlier one are
			// each under their run's UID, with their own content.
			root := strings.TrimPrefix(runtimeRoot, "file://")
			for i, u := range uids {
				b, err := os.ReadFile(filepath.Join(root, "stamp", u, "stamp", "stamp"))
				if err != nil {
					return fmt.Errorf("round %d: the artifact of round %d: %w", round, i+1, err)
				}
				if want := fmt.Sprintf("%s %d", u, i+1); string(b) != want {
					return fmt.Errorf("round %d: the artifact of round %d holds %q, want %q", round, i+1, b, want)
				}
			}
			return nil
		}
	}
	var steps []resource.TestStep
	for round := 1; round <= 5; round++ {
		step := resource.TestStep{
			Config: rerunConfig(ns, round),
			Check:  check(round),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
			},
		}
		if round > 1 {
			step.ConfigPlanChecks = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("kubeflow_run.test", plancheck.ResourceActionDestroyBeforeCreate),
			}}
		}
		steps = append(steps, step)
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

// TestAccRun_timeoutNamesStuckPods: an apply that times out waiting for a
// run whose task pod no node can take says why, as kubectl describe pod
// would (here: no node has 500 CPUs), instead of only "context deadline
// exceeded".
func TestAccRun_timeoutNamesStuckPods(t *testing.T) {
	ns := pipelineNamespace(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: providerBlock() + fmt.Sprintf(`
resource "kubeflow_pipeline" "test" {
  name      = "huge"
  namespace = %q
  dag = {
    tasks = [{ name = "train", image = "busybox", command = ["true"], resources = { cpu = "500" } }]
  }
}

resource "kubeflow_run" "test" {
  name      = "stuck"
  namespace = %q
  pipeline  = kubeflow_pipeline.test.name
  executor  = "pod"
  timeouts  = { create = "20s" }
}
`, ns, ns),
				ExpectError: regexp.MustCompile(`(?s)waiting for the run to end.*task\s+pods\s+not\s+running:\s+task\s+train:\s+pod\s+\S+:\s+not\s+scheduled:\s+Unschedulable:.*Insufficient\s+cpu`),
			},
		},
	})
}
