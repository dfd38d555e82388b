package mpijob

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// handleWorkerFailures decides what a failed worker means, per the
// Worker restart policy: Never fails the job; ExitCode restarts the
// worker for exit codes 128-255 and evictions and fails the job for 1-127;
// OnFailure and Always (a pod of theirs fails only when evicted, its
// node lost or its deadline passed) restart it. A restart deletes the pod,
// which the next reconcile creates again, and sets Restarting; a failure
// sets Failed, names the worker, its exit reason and its last log lines,
// and deletes the launcher Job, whose mpirun cannot finish without the
// worker. failed reports that the job failed.
func (r *Reconciler) handleWorkerFailures(ctx context.Context, job *kubeflow.MPIJob, launcher *batchv1.Job, workers []*corev1.Pod) (failed bool, err error) {
	policy := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]
	now := metav1.NewTime(r.now())
	for _, p := range workers {
		if p.Status.Phase != corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		why, code, hasCode := exitReason(p)
		retry := false
		switch policy.RestartPolicy {
		case kubeflow.RestartPolicyExitCode:
			retry = isEvicted(p) || (hasCode && code >= 128)
		case kubeflow.RestartPolicyOnFailure, kubeflow.RestartPolicyAlways:
			retry = true
		}
		tail := r.tail(ctx, p)
		if retry {
			msg := withTail(fmt.Sprintf("worker %s failed: %s; starting it again", p.Name, why), p.Name, tail)
			setCondition(&job.Status, kubeflow.JobRestarting, corev1.ConditionTrue, kubeflow.ReasonWorkerRestarting, truncate(msg, maxMessage), now)
			r.event(job, corev1.EventTypeWarning, kubeflow.ReasonWorkerRestarting, msg)
			if err := r.deletePod(ctx, p); err != nil {
				return false, fmt.Errorf("deleting failed worker %s: %w", p.Name, err)
			}
			continue
		}
		reason := kubeflow.ReasonWorkerFailed
		if isEvicted(p) {
			reason = kubeflow.ReasonEvicted
		}
		msg := withTail(fmt.Sprintf("MPIJob %s/%s failed: worker %s failed: %s", job.Namespace, job.Name, p.Name, why), p.Name, tail)
		r.event(job, corev1.EventTypeWarning, reason, msg)
		setCondition(&job.Status, kubeflow.JobFailed, corev1.ConditionTrue, reason, truncate(msg, maxMessage), now)
		job.Status.CompletionTime = &now
		if launcher != nil && !jobFinished(launcher) {
			if err := r.Delete(ctx, launcher, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
				return true, fmt.Errorf("deleting the launcher Job of a failed job: %w", err)
			}
		}
		r.countWorkers(job, workers)
		return true, r.cleanUp(ctx, job)
	}
	return false, nil
}

// workersReady reports whether every worker is Running, Ready and
// answers SSH; wait is when to look again if not (pod changes wake the
// controller anyway; only an sshd that is slow to answer needs the timer).
func (r *Reconciler) workersReady(ctx context.Context, job *kubeflow.MPIJob, workers []*corev1.Pod) (bool, time.Duration) {
	if len(workers) < int(job.WorkerReplicas()) {
		return false, 0
	}
	ports := sshPorts(job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker])
	for _, p := range workers {
		if p.Status.Phase != corev1.PodRunning || !podReady(p) || p.Status.PodIP == "" {
			return false, 0
		}
	}
	for _, p := range workers {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := r.Options.ProbeSSH(pctx, p.Status.PodIP, ports)
		cancel()
		if err != nil {
			log.FromContext(ctx).V(1).Info("worker's sshd does not answer yet", "worker", p.Name, "error", err.Error())
			return false, time.Second
		}
	}
	return true, 0
}

// sshPorts are the ports a worker's sshd may listen on: those its
// template declares (a TCP readiness probe, a container port named ssh),
// else 22 and 2222 (the port of mpi-operator's images for non-root sshd).
func sshPorts(rs *kubeflow.ReplicaSpec) []int32 {
	var ports []int32
	for _, c := range rs.Template.Spec.Containers {
		if p := c.ReadinessProbe; p != nil && p.TCPSocket != nil && p.TCPSocket.Port.Type == intstr.Int {
			ports = append(ports, p.TCPSocket.Port.IntVal)
		}
		for _, cp := range c.Ports {
			if strings.Contains(strings.ToLower(cp.Name), "ssh") {
				ports = append(ports, cp.ContainerPort)
			}
		}
	}
	if len(ports) == 0 {
		ports = []int32{22, 2222}
	}
	return ports
}

// DialSSH reports whether an SSH server answers at host on one of ports:
// it connects and reads the server's "SSH-" identification line.
func DialSSH(ctx context.Context, host string, ports []int32) error {
	var errs []error
	for _, port := range ports {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if deadline, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(deadline)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err == nil && strings.HasPrefix(line, "SSH-") {
			return nil
		}
		errs = append(errs, fmt.Errorf("port %d: no SSH identification (%q): %w", port, strings.TrimSpace(line), err))
	}
	return errors.Join(errs...)
}

// apiLogTail reads the last lines of a pod's first container through the
// API server (pods/log).
func apiLogTail(cs kubernetes.Interface, lines int64) func(ctx context.Context, namespace, pod string) (string, error) {
	limit := int64(maxMessage)
	return func(ctx context.Context, namespace, pod string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rc, err := cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{TailLines: &lines, LimitBytes: &limit}).Stream(ctx)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		return string(data), err
	}
}

func jobFinished(j *batchv1.Job) bool {
	return jobCondition(j, batchv1.JobComplete) != nil || jobCondition(j, batchv1.JobFailed) != nil
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func (r *Reconciler) countWorkers(job *kubeflow.MPIJob, workers []*corev1.Pod) (running int) {
	ws := resetReplicaStatus(&job.Status, kubeflow.MPIReplicaTypeWorker)
	for _, p := range workers {
		switch p.Status.Phase {
		case corev1.PodFailed:
			ws.Failed++
		case corev1.PodSucceeded:
			ws.Succeeded++
		case corev1.PodRunning:
			ws.Active++
			running++
		}
	}
	return running
}

// updateStatus sets the replica statuses and the Suspended, Running,
// Succeeded and Failed conditions from the launcher Job and the workers,
// with mpi-operator's reasons and messages; a finished launcher's last log
// lines go into the condition, since the Job's TTL deletes its pod.
func (r *Reconciler) updateStatus(ctx context.Context, job *kubeflow.MPIJob, launcher *batchv1.Job, workers []*corev1.Pod, now metav1.Time) error {
	st := &job.Status
	suspended := job.Suspended()
	if suspended {
		if setCondition(st, kubeflow.JobSuspended, corev1.ConditionTrue, kubeflow.ReasonSuspended, "MPIJob suspended", now) {
			r.event(job, corev1.EventTypeNormal, kubeflow.ReasonSuspended, "MPIJob suspended")
		}
	} else if st.Condition(kubeflow.JobSuspended) != nil {
		if setCondition(st, kubeflow.JobSuspended, corev1.ConditionFalse, kubeflow.ReasonResumed, "MPIJob resumed", now) {
			r.event(job, corev1.EventTypeNormal, kubeflow.ReasonResumed, "MPIJob resumed")
			st.StartTime = &now
		}
	}
	launcherRunning := 0
	if launcher != nil {
		pods, err := r.podsOf(ctx, job, kubeflow.RoleLauncher)
		if err != nil {
			return err
		}
		var owned []*corev1.Pod
		for _, p := range pods {
			if metav1.IsControlledBy(p, launcher) {
				owned = append(owned, p)
				if p.Status.Phase == corev1.PodRunning {
					launcherRunning++
				}
			}
		}
		ls := resetReplicaStatus(st, kubeflow.MPIReplicaTypeLauncher)
		ls.Failed = launcher.Status.Failed
		switch {
		case jobCondition(launcher, batchv1.JobComplete) != nil:
			ls.Succeeded = 1
			r.succeeded(ctx, job, launcher, owned, now)
		case jobCondition(launcher, batchv1.JobFailed) != nil:
			r.launcherFailed(ctx, job, launcher, owned, now)
		default:
			ls.Active = int32(launcherRunning)
		}
	}
	running := r.countWorkers(job, workers)
	if st.Finished() {
		return nil
	}
	switch {
	case suspended:
		setCondition(st, kubeflow.JobRunning, corev1.ConditionFalse, kubeflow.ReasonSuspended, fmt.Sprintf("MPIJob %s/%s is suspended.", job.Namespace, job.Name), now)
	case launcher != nil && launcherRunning >= 1 && running == len(workers) && len(workers) == int(job.WorkerReplicas()):
		msg := fmt.Sprintf("MPIJob %s/%s is running.", job.Namespace, job.Name)
		if setCondition(st, kubeflow.JobRunning, corev1.ConditionTrue, kubeflow.ReasonRunning, msg, now) {
			r.event(job, corev1.EventTypeNormal, kubeflow.ReasonRunning, msg)
		}
	}
	return nil
}

// lastPod is the newest of pods in phase.
func lastPod(pods []*corev1.Pod, phase corev1.PodPhase) *corev1.Pod {
	var last *corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == phase && (last == nil || last.CreationTimestamp.Before(&p.CreationTimestamp)) {
			last = p
		}
	}
	return last
}

func (r *Reconciler) succeeded(ctx context.Context, job *kubeflow.MPIJob, launcher *batchv1.Job, pods []*corev1.Pod, now metav1.Time) {
	msg := fmt.Sprintf("MPIJob %s/%s successfully completed.", job.Namespace, job.Name)
	r.event(job, corev1.EventTypeNormal, kubeflow.ReasonSucceeded, msg)
	if p := lastPod(pods, corev1.PodSucceeded); p != nil {
		msg = withTail(msg, "the launcher "+p.Name, r.tail(ctx, p))
	}
	if job.Status.CompletionTime == nil {
		job.Status.CompletionTime = launcher.Status.CompletionTime
		if job.Status.CompletionTime == nil {
			job.Status.CompletionTime = &now
		}
	}
	setCondition(&job.Status, kubeflow.JobSucceeded, corev1.ConditionTrue, kubeflow.ReasonSucceeded, truncate(msg, maxMessage), now)
}

// launcherFailed sets Failed with the Job's reason (BackoffLimitExceeded,
// DeadlineExceeded, PodFailurePolicy), the last failed launcher pod's
// exit reason, as mpi-operator does, and that pod's last log lines.
func (r *Reconciler) launcherFailed(ctx context.Context, job *kubeflow.MPIJob, launcher *batchv1.Job, pods []*corev1.Pod, now metav1.Time) {
	c := jobCondition(launcher, batchv1.JobFailed)
	reason, msg := c.Reason, c.Message
	if reason == "" {
		reason = kubeflow.ReasonFailed
	}
	if msg == "" {
		msg = fmt.Sprintf("MPIJob %s/%s has failed", job.Namespace, job.Name)
	}
	if p := lastPod(pods, corev1.PodFailed); p != nil {
		if reason == batchv1.JobReasonBackoffLimitExceeded && p.Status.Reason != "" {
			reason += "/" + p.Status.Reason
		}
		why, _, _ := exitReason(p)
		msg = withTail(fmt.Sprintf("%s: launcher %s: %s", msg, p.Name, why), p.Name, r.tail(ctx, p))
	}
	r.event(job, corev1.EventTypeWarning, reason, msg)
	if job.Status.CompletionTime == nil {
		job.Status.CompletionTime = &now
	}
	setCondition(&job.Status, kubeflow.JobFailed, corev1.ConditionTrue, reason, truncate(msg, maxMessage), now)
}

// podDefaults adds the operator's task-pod defaults to a launcher or
// worker pod and rewrites its images.
func (r *Reconciler) podDefaults(meta *metav1.ObjectMeta, spec *corev1.PodSpec) error {
	d := r.Options.PodDefaults
	for k, v := range d.NodeSelector {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		if _, set := spec.NodeSelector[k]; !set {
			spec.NodeSelector[k] = v
		}
	}
	spec.Tolerations = append(spec.Tolerations, d.Tolerations...)
	tolerateAccelerators(spec)
	spec.Volumes = append(spec.Volumes, d.Volumes...)
	spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, d.VolumeMounts...)
	if d.ImagePullPolicy != "" {
		for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range cs {
				cs[i].ImagePullPolicy = d.ImagePullPolicy
			}
		}
	}
	d.ApplyRequests(spec)
	meta.Labels = addMissing(meta.Labels, d.Labels)
	meta.Annotations = addMissing(meta.Annotations, d.Annotations)
	if err := r.Options.ImageRules.RewritePodSpec(spec); err != nil {
		return fmt.Errorf("rewriting images: %w", err)
	}
	return nil
}

func addMissing(m, add map[string]string) map[string]string {
	for k, v := range add {
		if m == nil {
			m = map[string]string{}
		}
		if _, set := m[k]; !set {
			m[k] = v
		}
	}
	return m
}

// acceleratorResources are the extended resources whose nodes carry a
// taint of the same name (GKE's GPU and TPU node pools).
var acceleratorResources = []corev1.ResourceName{"nvidia.com/gpu", "google.com/tpu"}

// tolerateAccelerators lets a pod that requests GPUs or TPUs onto the
// nodes that have them, as Kubernetes' ExtendedResourceToleration
// admission plugin (on in GKE) does: upstream MPIJob examples ask for
// nvidia.com/gpu and rely on it.
func tolerateAccelerators(spec *corev1.PodSpec) {
	for _, name := range acceleratorResources {
		wanted := false
		for _, c := range spec.Containers {
			_, l := c.Resources.Limits[name]
			_, r := c.Resources.Requests[name]
			wanted = wanted || l || r
		}
		if !wanted {
			continue
		}
		exists := false
		for _, t := range spec.Tolerations {
			exists = exists || (t.Key == string(name) && t.Operator == corev1.TolerationOpExists)
		}
		if !exists {
			spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: string(name), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
		}
	}
}
