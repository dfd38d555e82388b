package mpijob_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// newJob is a small job: a launcher and n workers.
func newJob(ns, name string, workers int32, mutate ...func(*kubeflow.MPIJob)) *kubeflow.MPIJob {
	container := func(n string) corev1.Container {
		return corev1.Container{Name: n, Image: "example.com/mpi:1", Command: []string{"mpirun", "-n", fmt.Sprint(workers), "/app/train"}}
	}
	job := &kubeflow.MPIJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kubeflow.MPIJobSpec{
			MPIReplicaSpecs: map[kubeflow.MPIReplicaType]*kubeflow.ReplicaSpec{
				kubeflow.MPIReplicaTypeLauncher: {Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{container("launcher")}}}},
				kubeflow.MPIReplicaTypeWorker:   {Replicas: &workers, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "example.com/mpi:1"}}}}},
			},
		},
	}
	for _, m := range mutate {
		m(job)
	}
	return job
}

// holdLauncher keeps the launcher's simulated mpirun running until the
// test ends it (testcluster.FinishTaskPod).
func holdLauncher(job *kubeflow.MPIJob) {
	job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher].Template.Annotations = map[string]string{testcluster.AnnotationHold: "true"}
}

func create(t testing.TB, job *kubeflow.MPIJob) {
	t.Helper()
	if err := k8s.Create(context.Background(), job); err != nil {
		t.Fatalf("creating %s: %v", job.Name, err)
	}
}

func setSuspend(t testing.TB, ns, name string, suspend bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"runPolicy":{"suspend":%t}}}`, suspend)
	if err := k8s.Patch(context.Background(), &kubeflow.MPIJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// finishLauncher ends the launcher's running pod with an exit code.
func finishLauncher(t testing.TB, ns, name string, code int) {
	t.Helper()
	var pod corev1.Pod
	waitFor(t, 30*time.Second, "a running launcher pod", func() (bool, string) {
		for _, p := range livePods(t, ns, name, kubeflow.RoleLauncher) {
			if p.Status.Phase == corev1.PodRunning {
				pod = p
				return true, ""
			}
		}
		return false, ""
	})
	if err := testcluster.FinishTaskPod(context.Background(), cluster.Client, ns, pod.Name, testcluster.TaskPodResult{ExitCode: code}); err != nil {
		t.Fatal(err)
	}
}

func waitWorkersRunning(t testing.TB, ns, name string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	waitFor(t, 30*time.Second, fmt.Sprintf("%d running workers", n), func() (bool, string) {
		pods = livePods(t, ns, name, kubeflow.RoleWorker)
		running := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == n && len(pods) == n, fmt.Sprintf("%d of %d running", running, len(pods))
	})
	return pods
}

// TestSuspendResume follows Kueue's use of runPolicy.suspend (as
// kubernetes-sigs/kueue#3257 relies on mpi-operator's semantics): a job
// created suspended gets no pods and no launcher; resumed, it starts, with
// a new start time; suspended while running, its workers go and its
// launcher Job is suspended; resumed again, it runs to the end.
func TestSuspendResume(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	job := newJob(ns, "kueue", 2, holdLauncher, func(j *kubeflow.MPIJob) {
		yes := true
		j.Spec.RunPolicy.Suspend = &yes
	})
	create(t, job)
	got := waitCondition(t, ns, "kueue", kubeflow.JobSuspended, 30*time.Second)
	if c := condition(t, got, kubeflow.JobSuspended); c.Reason != kubeflow.ReasonSuspended {
		t.Errorf("Suspended: %+v", c)
	}
	if c := condition(t, got, kubeflow.JobRunning); c.Status != corev1.ConditionFalse || c.Reason != kubeflow.ReasonSuspended {
		t.Errorf("Running while suspended: %+v", c)
	}
	if got.Status.StartTime != nil {
		t.Errorf("a suspended job has a start time: %v", got.Status.StartTime)
	}
	if exists(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kueue-launcher"}}) {
		t.Fatal("a launcher Job exists for a job created suspended (kubeflow/mpi-operator#615)")
	}
	if pods := livePods(t, ns, "kueue", kubeflow.RoleWorker); len(pods) != 0 {
		t.Fatalf("%d workers exist for a suspended job", len(pods))
	}

	setSuspend(t, ns, "kueue", false)
	waitWorkersRunning(t, ns, "kueue", 2)
	got = waitCondition(t, ns, "kueue", kubeflow.JobRunning, 30*time.Second)
	if c := condition(t, got, kubeflow.JobSuspended); c.Status != corev1.ConditionFalse || c.Reason != kubeflow.ReasonResumed {
		t.Errorf("Suspended after resume: %+v", c)
	}
	if got.Status.StartTime == nil {
		t.Error("no start time after resume")
	}

	setSuspend(t, ns, "kueue", true)
	waitFor(t, 30*time.Second, "workers deleted and the launcher suspended", func() (bool, string) {
		l := launcherJob(t, ns, "kueue")
		w := livePods(t, ns, "kueue", kubeflow.RoleWorker)
		return l.Spec.Suspend != nil && *l.Spec.Suspend && len(w) == 0, fmt.Sprintf("launcher suspend %v, %d workers", l.Spec.Suspend, len(w))
	})
	got = waitCondition(t, ns, "kueue", kubeflow.JobSuspended, 30*time.Second)
	if c := condition(t, got, kubeflow.JobRunning); c.Status != corev1.ConditionFalse {
		t.Errorf("Running while suspended again: %+v", c)
	}

	setSuspend(t, ns, "kueue", false)
	waitWorkersRunning(t, ns, "kueue", 2)
	finishLauncher(t, ns, "kueue", 0)
	waitCondition(t, ns, "kueue", kubeflow.JobSucceeded, 30*time.Second)
}

// TestManagedByMultiKueue: a job that Kueue's MultiKueue manages is left
// alone: no objects, no status.
func TestManagedByMultiKueue(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t, newJob(ns, "remote", 1, func(j *kubeflow.MPIJob) {
		m := kubeflow.MultiKueueController
		j.Spec.RunPolicy.ManagedBy = &m
	}))
	// A job of this controller created after it is reconciled; by then the
	// other has been seen and skipped.
	create(t, newJob(ns, "local", 1))
	waitCondition(t, ns, "local", kubeflow.JobCreated, 30*time.Second)
	time.Sleep(time.Second)
	if job := getJob(t, ns, "remote"); len(job.Status.Conditions) > 0 {
		t.Errorf("a MultiKueue job got a status: %s", describe(job))
	}
	for _, obj := range []client.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote-config"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote-worker-0"}},
	} {
		if exists(t, obj) {
			t.Errorf("%T %s exists for a job managed by MultiKueue", obj, obj.GetName())
		}
	}
}

// TestWorkerFailure: a worker that fails with restart policy Never fails
// the job, and the condition names the worker, its exit code and its last
// log lines; the launcher Job goes. Under ExitCode, a worker killed by a
// signal (exit 137) is started again (Restarting), one that exits 2 fails
// the job.
func TestWorkerFailure(t *testing.T) {
	t.Parallel()
	t.Run("Never", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t)
		create(t, newJob(ns, "never", 2, holdLauncher))
		waitWorkersRunning(t, ns, "never", 2)
		programs.setLog(ns, "never-worker-1", "rank 1: loading shard\nrank 1: CUDA error: out of memory")
		if err := testcluster.FinishTaskPod(context.Background(), cluster.Client, ns, "never-worker-1", testcluster.TaskPodResult{ExitCode: 3}); err != nil {
			t.Fatal(err)
		}
		job := waitCondition(t, ns, "never", kubeflow.JobFailed, 30*time.Second)
		c := condition(t, job, kubeflow.JobFailed)
		for _, want := range []string{"worker never-worker-1 failed", "exited with code 3", "CUDA error: out of memory"} {
			if !strings.Contains(c.Message, want) {
				t.Errorf("Failed message lacks %q: %s", want, c.Message)
			}
		}
		if c.Reason != kubeflow.ReasonWorkerFailed || job.Status.CompletionTime == nil {
			t.Errorf("Failed: %+v, completion %v", c, job.Status.CompletionTime)
		}
		waitFor(t, 30*time.Second, "the launcher Job deleted", func() (bool, string) {
			return !exists(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "never-launcher"}}), ""
		})
	})
	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t)
		create(t, newJob(ns, "codes", 1, holdLauncher, func(j *kubeflow.MPIJob) {
			j.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].RestartPolicy = kubeflow.RestartPolicyExitCode
		}))
		first := waitWorkersRunning(t, ns, "codes", 1)[0]
		if err := testcluster.FinishTaskPod(context.Background(), cluster.Client, ns, "codes-worker-0", testcluster.TaskPodResult{ExitCode: 137}); err != nil {
			t.Fatal(err)
		}
		var second corev1.Pod
		waitFor(t, 30*time.Second, "the worker started again", func() (bool, string) {
			for _, p := range livePods(t, ns, "codes", kubeflow.RoleWorker) {
				if p.UID != first.UID && p.Status.Phase == corev1.PodRunning {
					second = p
					return true, ""
				}
			}
			return false, ""
		})
		// Restarting lasts until the new worker runs (Running replaces it,
		// as in mpi-operator); the event stays.
		waitFor(t, 10*time.Second, "a WorkerRestarting event", func() (bool, string) {
			evs := &eventsv1.EventList{}
			if err := k8s.List(context.Background(), evs, client.InNamespace(ns)); err != nil {
				return false, err.Error()
			}
			for _, e := range evs.Items {
				if e.Reason == kubeflow.ReasonWorkerRestarting && strings.Contains(e.Note, "codes-worker-0") && strings.Contains(e.Note, "137") {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d events", len(evs.Items))
		})
		if job := getJob(t, ns, "codes"); job.Status.IsTrue(kubeflow.JobFailed) {
			t.Fatalf("a retryable exit code failed the job: %s", describe(job))
		}
		if err := testcluster.FinishTaskPod(context.Background(), cluster.Client, ns, second.Name, testcluster.TaskPodResult{ExitCode: 2}); err != nil {
			t.Fatal(err)
		}
		job := waitCondition(t, ns, "codes", kubeflow.JobFailed, 30*time.Second)
		if c := condition(t, job, kubeflow.JobFailed); !strings.Contains(c.Message, "exited with code 2") {
			t.Errorf("Failed: %+v", c)
		}
	})
}

// TestLauncherFailure: a launcher that fails past backoffLimit fails the
// job with the Job's reason, the launcher pod's exit code and its last
// log lines.
func TestLauncherFailure(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	// The launcher pod's name is the Job's choice: every pod of the
	// namespace has this log.
	programs.setLog(ns, "*", "mpirun: ORTE was unable to reliably start one or more daemons")
	create(t, newJob(ns, "crash", 1, func(j *kubeflow.MPIJob) {
		zero := int32(0)
		j.Spec.RunPolicy.BackoffLimit = &zero
		l := j.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]
		l.RestartPolicy = kubeflow.RestartPolicyNever
		l.Template.Annotations = map[string]string{testcluster.AnnotationExitCode: "1"}
	}))
	job := waitCondition(t, ns, "crash", kubeflow.JobFailed, 30*time.Second)
	c := condition(t, job, kubeflow.JobFailed)
	if !strings.HasPrefix(c.Reason, "BackoffLimitExceeded") || !strings.Contains(c.Message, "exited with code 1") || !strings.Contains(c.Message, "ORTE was unable") {
		t.Errorf("Failed: %+v", c)
	}
	if ls := job.Status.ReplicaStatuses[kubeflow.MPIReplicaTypeLauncher]; ls == nil || ls.Failed != 1 {
		t.Errorf("launcher replica status %+v", ls)
	}
}

// TestWaitForWorkersReady: the launcher is created only once every worker
// runs, is Ready and its sshd answers (kubeflow/mpi-operator#386, #482).
func TestWaitForWorkersReady(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t, newJob(ns, "patient", 2, holdLauncher, func(j *kubeflow.MPIJob) {
		j.Spec.LauncherCreationPolicy = kubeflow.LauncherCreationPolicyWaitForWorkersReady
	}))
	var pods []corev1.Pod
	waitFor(t, 30*time.Second, "workers with IPs", func() (bool, string) {
		pods = livePods(t, ns, "patient", kubeflow.RoleWorker)
		for _, p := range pods {
			if p.Status.PodIP == "" {
				return false, ""
			}
		}
		return len(pods) == 2, ""
	})
	// The workers' sshd does not answer yet; then worker 0's does.
	before := programs.probes.Load()
	waitFor(t, 30*time.Second, "the controller probing the workers' sshd", func() (bool, string) {
		return programs.probes.Load() > before+1, ""
	})
	programs.setSSHUp(pods[0].Status.PodIP)
	before = programs.probes.Load()
	waitFor(t, 30*time.Second, "the controller probing again", func() (bool, string) {
		return programs.probes.Load() > before+2, ""
	})
	if exists(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "patient-launcher"}}) {
		t.Fatal("the launcher was created while a worker's sshd did not answer")
	}
	programs.setSSHUp(pods[1].Status.PodIP)
	waitFor(t, 30*time.Second, "the launcher Job", func() (bool, string) {
		return exists(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "patient-launcher"}}), ""
	})
	finishLauncher(t, ns, "patient", 0)
	waitCondition(t, ns, "patient", kubeflow.JobSucceeded, 30*time.Second)
}

// TestGPUWorkersLandOnGPUNodes: workers asking for nvidia.com/gpu, as
// upstream's GPU examples do (without tolerations), are scheduled on the
// GPU nodes, whose taint the controller tolerates for them.
func TestGPUWorkersLandOnGPUNodes(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	create(t, newJob(ns, "gpus", 2, holdLauncher, func(j *kubeflow.MPIJob) {
		c := &j.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].Template.Spec.Containers[0]
		c.Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}
	}))
	pods := waitWorkersRunning(t, ns, "gpus", 2)
	for _, p := range pods {
		node := &corev1.Node{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: p.Spec.NodeName}, node); err != nil {
			t.Fatal(err)
		}
		if _, ok := node.Status.Capacity["nvidia.com/gpu"]; !ok {
			t.Errorf("worker %s runs on %s, which has no GPU", p.Name, p.Spec.NodeName)
		}
	}
	for _, p := range livePods(t, ns, "gpus", kubeflow.RoleLauncher) {
		node := &corev1.Node{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: p.Spec.NodeName}, node); err == nil {
			if _, ok := node.Status.Capacity["nvidia.com/gpu"]; ok {
				t.Errorf("the launcher, which asks for no GPU, runs on GPU node %s", p.Spec.NodeName)
			}
		}
	}
	finishLauncher(t, ns, "gpus", 0)
	waitCondition(t, ns, "gpus", kubeflow.JobSucceeded, 30*time.Second)
}
