package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// TaskSpecEnv carries the task spec (JSON) to `kfstack-runtime launch`.
const TaskSpecEnv = "KFSTACK_TASK"

const (
	binVolume     = "kfstack-bin"
	binDir        = "/kfstack/bin"
	mainContainer = "main"
)

// podName names the pod of one attempt, <run>-<uid>-<node>-<attempt>:
// deterministic, so that creating it twice (after a restart, or a status
// conflict) finds the first one, and unique to the run's UID, so that a
// run deleted and made again under the same name never meets its
// predecessor's pods. uid is the first 8 hex digits of the run's UID (32
// random bits: the adoption check in createPod covers a clash). Long run
// names are cut to keep the name within 253 characters.
func podName(run *v1alpha1.PipelineRun, node, attempt int32) string {
	suffix := "-" + shortUID(run.UID) + "-" + strconv.Itoa(int(node)) + "-" + strconv.Itoa(int(attempt))
	name := run.Name
	if max := 253 - len(suffix); len(name) > max {
		name = strings.TrimRight(name[:max], "-.")
	}
	return name + suffix
}

// shortUID is the first 8 hex digits of a UID.
func shortUID(uid types.UID) string {
	s := strings.ReplaceAll(string(uid), "-", "")
	if len(s) > 8 {
		s = s[:8]
	}
	return s
}

// ownsAttempt reports why pod cannot be adopted as the attempt's pod of
// task path in run: it must be controlled by the run, carry the run's
// UID, the attempt's node and number, and the task's path. "" means it can.
func ownsAttempt(pod *corev1.Pod, run *v1alpha1.PipelineRun, node, attempt int32, path string) string {
	n, a, ok := podAttempt(pod)
	switch {
	case !metav1.IsControlledBy(pod, run) || pod.Labels[v1alpha1.LabelRunUID] != string(run.UID):
		return fmt.Sprintf("pod %s belongs to another run", pod.Name)
	case !ok || n != node || a != attempt:
		return fmt.Sprintf("pod %s is not the pod of node %d, attempt %d", pod.Name, node, attempt)
	case pod.Annotations[v1alpha1.AnnotationTask] != path:
		return fmt.Sprintf("pod %s runs task %q, not %q", pod.Name, pod.Annotations[v1alpha1.AnnotationTask], path)
	}
	return ""
}

// buildPod returns the pod for a StartTask action.
func (r *PipelineRunReconciler) buildPod(run *v1alpha1.PipelineRun, root string, a engine.Action) (*corev1.Pod, error) {
	spec := launcher.NewTaskSpec(a.Task, root)
	secretEnv := secretParameterEnv(run, spec)
	spec.Attempt = a.Attempt
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding task spec: %w", err)
	}
	image := ""
	if c := a.Task.Component.Executor; c != nil && c.Container != nil {
		image = c.Container.Image
	}
	if image == "" {
		return nil, fmt.Errorf("task %s has no container image", a.Task.Path)
	}
	p := a.Task.Placement
	main := corev1.Container{
		Name:                     mainContainer,
		Image:                    image,
		Command:                  []string{binDir + "/kfstack-runtime", "launch", "--spec-env", TaskSpecEnv},
		Env:                      append([]corev1.EnvVar{{Name: TaskSpecEnv, Value: string(specJSON)}}, secretEnv...),
		VolumeMounts:             []corev1.VolumeMount{{Name: binVolume, MountPath: binDir, ReadOnly: true}},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	podSpec := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: podServiceAccount(run),
		NodeSelector:       copyStrings(p.NodeSelector),
		InitContainers: []corev1.Container{{
			Name:         "kfstack-init",
			Image:        r.Options.RuntimeImage,
			Command:      []string{r.Options.RuntimeBinary, "install", binDir},
			VolumeMounts: []corev1.VolumeMount{{Name: binVolume, MountPath: binDir}},
		}},
		Containers: []corev1.Container{main},
		Volumes:    []corev1.Volume{{Name: binVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	for _, t := range p.Tolerations {
		podSpec.Tolerations = append(podSpec.Tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	if err := place(&podSpec, p); err != nil {
		return nil, fmt.Errorf("placing task %s: %w", a.Task.Path, err)
	}
	if a.Task.Timeout > 0 {
		secs := int64(a.Task.Timeout.Seconds())
		podSpec.ActiveDeadlineSeconds = &secs
	}
	if r.Options.PythonExecutor != "" {
		podSpec.Containers[0].Env = append(podSpec.Containers[0].Env, corev1.EnvVar{Name: launcher.PythonEnv, Value: string(r.Options.PythonExecutor)})
	}
	t := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      podName(run, a.Node, a.Attempt),
			Namespace: run.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelRunUID:  string(run.UID),
				v1alpha1.LabelNode:    strconv.Itoa(int(a.Node)),
				v1alpha1.LabelAttempt: strconv.Itoa(int(a.Attempt)),
			},
			Annotations: map[string]string{v1alpha1.AnnotationTask: a.Task.Path},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "PipelineRun", Name: run.Name, UID: run.UID,
				Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: podSpec,
	}
	if len(spec.Outputs.Parameters)+len(spec.Outputs.Artifacts) > 0 {
		pod.Annotations[v1alpha1.AnnotationOutputs] = "true"
	}
	if len(run.Name) <= 63 {
		pod.Labels[v1alpha1.LabelRun] = run.Name
	}
	if err := applyPodConfig(pod, a.Task.Pod); err != nil {
		return nil, fmt.Errorf("task %s: %w", a.Task.Path, err)
	}
	if err := r.Options.TaskPodDefaults.apply(pod, r.Options.ImageRules); err != nil {
		return nil, fmt.Errorf("task %s: %w", a.Task.Path, err)
	}
	return pod, nil
}

// place sets resources, and for accelerators the extended resource, GKE's
// accelerator node selector and the toleration of GKE's accelerator taint.
func place(spec *corev1.PodSpec, p pipeline.Placement) error {
	res := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: p.CPU, corev1.ResourceMemory: p.Memory} {
		if q == "" {
			continue
		}
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return fmt.Errorf("parsing %s %q: %w", name, q, err)
		}
		res[name] = v
	}
	if p.AcceleratorCount > 0 {
		kind := p.AcceleratorType
		resName, selectorKey := corev1.ResourceName("nvidia.com/gpu"), "cloud.google.com/gke-accelerator"
		if strings.Contains(strings.ToLower(kind), "tpu") {
			resName, selectorKey = "google.com/tpu", "cloud.google.com/gke-tpu-accelerator"
		}
		res[resName] = *resource.NewQuantity(int64(p.AcceleratorCount), resource.DecimalSI)
		// A GKE accelerator name (NVIDIA_TESLA_T4, nvidia-l4,
		// tpu-v5-lite-podslice) selects the node pool; a bare resource
		// name leaves the choice to the scheduler.
		if kind != "" && !strings.Contains(kind, "/") {
			if spec.NodeSelector == nil {
				spec.NodeSelector = map[string]string{}
			}
			if _, set := spec.NodeSelector[selectorKey]; !set {
				spec.NodeSelector[selectorKey] = strings.ReplaceAll(strings.ToLower(kind), "_", "-")
			}
		}
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: string(resName), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	if len(res) > 0 {
		c := &spec.Containers[0]
		c.Resources.Requests = res
		c.Resources.Limits = res.DeepCopy()
	}
	return nil
}

func copyStrings(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// podAttempt returns the node and attempt a task pod belongs to.
func podAttempt(pod *corev1.Pod) (node, attempt int32, ok bool) {
	n, err1 := strconv.Atoi(pod.Labels[v1alpha1.LabelNode])
	a, err2 := strconv.Atoi(pod.Labels[v1alpha1.LabelAttempt])
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return int32(n), int32(a), true
}

// slimPod is the cache transform for pods: the controller reads a task
// pod's labels, owner, phase, readiness and termination message only, so the spec
// (with its task spec in the environment) and managed fields are dropped,
// which keeps the cache of a 5,000-task run small.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	// Readiness stays: the MPIJob controller starts a launcher once its
	// workers are Ready (runtime/mpijob). So does why a pod is not
	// scheduled, and why a container waits (podWaiting).
	var kept []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		switch {
		case c.Type == corev1.PodReady:
			kept = append(kept, corev1.PodCondition{Type: c.Type, Status: c.Status})
		case c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse:
			kept = append(kept, corev1.PodCondition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message})
		}
	}
	pod.Status.Conditions = kept
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range statuses {
			cs := &statuses[i]
			state := corev1.ContainerState{Terminated: cs.State.Terminated}
			if w := cs.State.Waiting; w != nil && !startingNormally[w.Reason] {
				state.Waiting = w
			}
			*cs = corev1.ContainerStatus{Name: cs.Name, State: state}
		}
	}
	return pod, nil
}

// startingNormally are the reasons of a waiting container on its way to
// run: nothing to report.
var startingNormally = map[string]bool{"": true, "ContainerCreating": true, "PodInitializing": true}

// podWaiting says why a pod that has not finished does not run, as
// kubectl describe pod would: not scheduled (no node fits: the scheduler's
// reason and message), or a container waiting (a missing Secret or
// ConfigMap: CreateContainerConfigError; an image that cannot be pulled).
// It is empty for a pod on its way (being scheduled, creating its
// containers), running, finished or being deleted.
func podWaiting(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil || (pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "") {
		return ""
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			if w := cs.State.Waiting; w != nil && !startingNormally[w.Reason] {
				return strings.TrimSuffix(fmt.Sprintf("container %s waiting: %s: %s", cs.Name, w.Reason, w.Message), ": ")
			}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return strings.TrimSuffix(fmt.Sprintf("not scheduled: %s: %s", c.Reason, c.Message), ": ")
		}
	}
	return ""
}

// cannotStart are the reasons of a waiting container that no retry of
// the kubelet's resolves: the pod would stay Pending for ever. Image pull
// errors (ErrImagePull, ImagePullBackOff) are not among them: a registry
// may be down for a while.
var cannotStart = map[string]bool{
	"ErrImageNeverPull": true, // imagePullPolicy Never and the image is not on the node
	"InvalidImageName":  true,
}

// podStuck says why a pod can never finish by itself: one of its
// containers cannot start.
func podStuck(pod *corev1.Pod) (string, bool) {
	if pod.Status.Phase != corev1.PodPending && pod.Status.Phase != corev1.PodRunning {
		return "", false
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			if w := cs.State.Waiting; w != nil && cannotStart[w.Reason] {
				return fmt.Sprintf("container %s cannot start: %s: %s", cs.Name, w.Reason, w.Message), true
			}
		}
	}
	return "", false
}

// podFinished returns the termination message of a finished task pod and
// whether the pod finished; reason explains a pod that ended without one
// (evicted, deadline exceeded, image pull failure after deletion).
func podFinished(pod *corev1.Pod) (finished, succeeded bool, message, reason string) {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
	default:
		if why, stuck := podStuck(pod); stuck {
			return true, false, "", why
		}
		return false, false, "", ""
	}
	succeeded = pod.Status.Phase == corev1.PodSucceeded
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == mainContainer && cs.State.Terminated != nil {
			message = cs.State.Terminated.Message
			if !succeeded {
				reason = fmt.Sprintf("container exited with code %d (%s)", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
			}
		}
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if t := cs.State.Terminated; reason == "" && !succeeded && t != nil && t.ExitCode != 0 {
			// The launcher never ran: copying it into the pod failed.
			reason = fmt.Sprintf("init container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
			if m := strings.TrimSpace(t.Message); m != "" {
				reason += ": " + m
			}
		}
	}
	if reason == "" && !succeeded {
		reason = strings.TrimSpace(pod.Status.Reason + " " + pod.Status.Message)
		if reason == "" {
			reason = "pod failed"
		}
	}
	return true, succeeded, message, reason
}

// podServiceAccount is the service account the run's pods run as: the one
// resolved when it started (runs started by an older controller have
// none recorded, and keep what they named).
func podServiceAccount(run *v1alpha1.PipelineRun) string {
	if sa := run.Status.ServiceAccountName; sa != "" {
		return sa
	}
	return run.Spec.ServiceAccountName
}

// secretEnvPrefix starts the names of the environment variables that
// carry secret parameters into a task's container.
const secretEnvPrefix = "KFSTACK_SECRET_PARAM_"

// secretParameterEnv gives the task pod the values of its secret input
// parameters without the controller reading them: an environment variable
// from the Secret's key for each (resolved by the kubelet), named in the
// task spec's SecretEnv, where the launcher finds it. A reference to a
// parameter the run does not take from a Secret (only an upstream task's
// output could forge one: plain run parameters are checked) gets no
// variable, and the launcher fails the attempt naming it.
func secretParameterEnv(run *v1alpha1.PipelineRun, spec *launcher.TaskSpec) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, input := range slices.Sorted(maps.Keys(spec.Params)) {
		name, ok := pipeline.SecretParameterName(spec.Params[input])
		if !ok {
			continue
		}
		ref, ok := run.Spec.ParameterSecrets[name]
		if !ok {
			continue
		}
		if spec.SecretEnv == nil {
			spec.SecretEnv = map[string]string{}
		}
		variable := fmt.Sprintf("%s%d", secretEnvPrefix, len(env))
		spec.SecretEnv[input] = variable
		env = append(env, secretEnvVar(variable, ref.Name, ref.Key))
	}
	return env
}

// secretEnvVar is an environment variable the kubelet sets from a
// Secret's key: how a task receives a secret (secret parameters, and
// KFP's use_secret_as_env) without the controller reading it.
func secretEnvVar(variable, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: variable, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key},
	}}
}
