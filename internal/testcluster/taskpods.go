package testcluster

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Task pods on the simulated nodes. KWOK cannot run a task's program, so a
// test plays the program and KWOK plays the kubelet: the test decides the
// program's result and writes it into the pod's annotations
// (FinishTaskPod); KWOK's stage kfstack-task-pod-finish (stages/) then ends
// the Running pod as the kubelet would, with the main container terminated
// with that exit code and termination message, and the pod Succeeded or
// Failed. A task pod without a result keeps running.
const (
	// TaskPodLabel marks the runtime controller's task pods
	// (v1alpha1.LabelRunUID).
	TaskPodLabel = "pipelines.kfstack.dev/run-uid"
	// AnnotationHold keeps a Job's pod Running on KWOK until a test sets
	// its exit code: KWOK's pod-complete stage, which ends Job pods at
	// once, leaves pods with it (or with AnnotationExitCode) alone.
	AnnotationHold = "kwok.kfstack.dev/hold"
	// AnnotationExitCode is the simulated program's exit code (decimal);
	// setting it ends the pod.
	AnnotationExitCode = "kwok.kfstack.dev/exit-code"
	// AnnotationTerminationMessage is what the program wrote to its
	// termination message path (optional).
	AnnotationTerminationMessage = "kwok.kfstack.dev/termination-message"
)

// taskPodStage is KWOK's stage that ends task pods.
//
//go:embed stages/task-pod-finish.yaml
var taskPodStage []byte

// writeTaskPodStage writes the stage into dir for KWOK's --config.
func writeTaskPodStage(dir string) (string, error) {
	path := filepath.Join(dir, "kwok-task-pod-finish.yaml")
	if err := os.WriteFile(path, taskPodStage, 0o644); err != nil {
		return "", fmt.Errorf("writing KWOK's task pod stage: %w", err)
	}
	return path, nil
}

// holdableStage writes a copy of KWOK's pod-complete stage that leaves
// the Job pods a test finishes itself (AnnotationExitCode, AnnotationHold)
// alone, and returns its path.
func holdableStage(dir, stage string) (string, error) {
	data, err := os.ReadFile(stage)
	if err != nil {
		return "", err
	}
	const anchor = "    matchExpressions:\n"
	if !bytes.Contains(data, []byte(anchor)) {
		return "", fmt.Errorf("stage %s has no selector to extend", stage)
	}
	var extra string
	for _, a := range []string{AnnotationExitCode, AnnotationHold} {
		extra += fmt.Sprintf("    - key: '.metadata.annotations[\"%s\"]'\n      operator: 'DoesNotExist'\n", a)
	}
	data = bytes.Replace(data, []byte(anchor), []byte(anchor+extra), 1)
	out := filepath.Join(dir, "holdable-"+filepath.Base(stage))
	return out, os.WriteFile(out, data, 0o644)
}

// TaskPodResult is the end of a task pod's simulated program.
type TaskPodResult struct {
	// ExitCode is the main container's exit code: 0 makes the pod
	// Succeeded, anything else Failed.
	ExitCode int
	// Message is the termination message (kfstack's launcher writes its
	// result there; at most 4 KiB in a real pod).
	Message string
}

// FinishTaskPod ends the simulated program of a task pod on a KWOK node:
// one merge patch of the pod's annotations. The pod ends when it is Running,
// at once if it already is.
func FinishTaskPod(ctx context.Context, client kubernetes.Interface, namespace, name string, res TaskPodResult) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		AnnotationExitCode:           strconv.Itoa(res.ExitCode),
		AnnotationTerminationMessage: res.Message,
	}}})
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Pods(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("finishing task pod %s/%s: %w", namespace, name, err)
	}
	return nil
}
