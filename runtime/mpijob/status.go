package mpijob

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// setCondition sets a condition as mpi-operator does: nothing changes when
// the status and reason are the same; the transition time stays when only
// the reason or message changes; Running and Restarting replace each
// other; Succeeded or Failed turn Running False. It reports whether the
// condition changed.
func setCondition(status *kubeflow.JobStatus, t kubeflow.JobConditionType, s corev1.ConditionStatus, reason, message string, now metav1.Time) bool {
	cur := status.Condition(t)
	if cur != nil && cur.Status == s && cur.Reason == reason {
		if cur.Message != message {
			cur.Message, cur.LastUpdateTime = message, now
			return true
		}
		return false
	}
	c := kubeflow.JobCondition{Type: t, Status: s, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now}
	if cur != nil && cur.Status == s {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	var kept []kubeflow.JobCondition
	for _, other := range status.Conditions {
		switch {
		case other.Type == t:
			continue
		case t == kubeflow.JobRestarting && other.Type == kubeflow.JobRunning,
			t == kubeflow.JobRunning && other.Type == kubeflow.JobRestarting:
			continue
		case (t == kubeflow.JobFailed || t == kubeflow.JobSucceeded) && other.Type == kubeflow.JobRunning:
			other.Status = corev1.ConditionFalse
		}
		kept = append(kept, other)
	}
	kept = append(kept, c)
	status.Conditions = kept
	return true
}

// replicaStatus returns the job's status of a replica type, made empty.
func resetReplicaStatus(status *kubeflow.JobStatus, t kubeflow.MPIReplicaType) *kubeflow.ReplicaStatus {
	if status.ReplicaStatuses == nil {
		status.ReplicaStatuses = map[kubeflow.MPIReplicaType]*kubeflow.ReplicaStatus{}
	}
	rs := &kubeflow.ReplicaStatus{}
	status.ReplicaStatuses[t] = rs
	return rs
}

// maxMessage bounds condition messages, which carry log tails; events are
// cut shorter by the events API (1 KiB).
const (
	maxMessage      = 4096
	maxEventMessage = 1024
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// exitReason describes how a pod's main container ended: its exit code
// and the kubelet's reason (OOMKilled, Error), or why the pod failed
// without one (Evicted, DeadlineExceeded, a node lost).
func exitReason(pod *corev1.Pod) (string, int32, bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			msg := fmt.Sprintf("container %s exited with code %d", cs.Name, t.ExitCode)
			if t.Reason != "" {
				msg += " (" + t.Reason + ")"
			}
			return msg, t.ExitCode, true
		}
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("init container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason), t.ExitCode, true
		}
	}
	why := pod.Status.Reason
	if pod.Status.Message != "" {
		if why != "" {
			why += ": "
		}
		why += pod.Status.Message
	}
	if why == "" {
		why = "the pod failed"
	}
	return why, 0, false
}

func isEvicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && (pod.Status.Reason == "Evicted" || pod.Status.Reason == "Preempted" || pod.Status.Reason == "Terminated" || pod.Status.Reason == "NodeLost")
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
