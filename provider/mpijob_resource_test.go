package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// mpiNamespace creates a namespace for one test's MPI jobs, with the
// runtime's controller running.
func mpiNamespace(t *testing.T) string {
	t.Helper()
	startRuntime(t)
	ns := uniqueName("mpi")
	if _, err := testCluster.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

func mpiJobConfig(ns, name string, workers int, extra string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_mpi_job" "test" {
  name                = %q
  namespace           = %q
  ssh_auth_mount_path = "/home/mpiuser/.ssh"
  launcher = {
    image       = "mpioperator/mpi-pi:openmpi"
    command     = ["mpirun"]
    args        = ["-n", "%d", "/home/mpiuser/pi"]
    run_as_user = 1000
    resources   = { cpu = "1", memory = "1Gi" }
  }
  worker = {
    replicas    = %d
    image       = "mpioperator/mpi-pi:openmpi"
    command     = ["/usr/sbin/sshd"]
    args        = ["-De", "-f", "/home/mpiuser/.sshd_config"]
    run_as_user = 1000
    env         = { OMP_NUM_THREADS = "1" }
    resources   = { cpu = "500m", memory = "512Mi" }
  }
%s
}
`, name, ns, workers, workers, extra)
}

// TestAccMPIJob_basic: the job runs to Succeeded on KWOK's simulated pods
// (the apply waits); import reads the same; the data source sees it; a
// suspended job is applied without waiting and resumed in place; a change
// of the workers replaces it.
func TestAccMPIJob_basic(t *testing.T) {
	ns := mpiNamespace(t)
	suspended := `
  run_policy = {
    clean_pod_policy = "Running"
    suspend          = true
  }
`
	resumed := strings.Replace(suspended, "true", "false", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: mpiJobConfig(ns, "pi", 2, `  run_policy = { clean_pod_policy = "Running" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("id"), knownvalue.StringExact(ns+"/pi")),
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("replica_statuses").AtMapKey("Launcher").AtMapKey("succeeded"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("implementation"), knownvalue.StringExact("OpenMPI")),
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("start_time"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-`))),
				},
				Check: checkMPIJob(ns, "pi", func(job *kubeflow.MPIJob) error {
					w := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]
					c := w.Template.Spec.Containers[0]
					if *w.Replicas != 2 || c.Command[0] != "/usr/sbin/sshd" || *c.SecurityContext.RunAsUser != 1000 || c.Resources.Limits.Cpu().String() != "500m" {
						return fmt.Errorf("worker spec %+v", w)
					}
					return nil
				}),
			},
			{
				ResourceName:            "kubeflow_mpi_job.test",
				ImportState:             true,
				ImportStateId:           ns + "/pi",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts", "wait", "message", "replica_statuses"},
			},
			{
				Config: mpiJobConfig(ns, "pi", 2, `  run_policy = { clean_pod_policy = "Running" }`) + `
data "kubeflow_mpi_job" "test" {
  name      = kubeflow_mpi_job.test.name
  namespace = kubeflow_mpi_job.test.namespace
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.kubeflow_mpi_job.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
					statecheck.ExpectKnownValue("data.kubeflow_mpi_job.test", tfjsonpath.New("worker_replicas"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("data.kubeflow_mpi_job.test", tfjsonpath.New("launcher_image"), knownvalue.StringExact("mpioperator/mpi-pi:openmpi")),
				},
			},
			{
				// A new job, suspended: created without waiting, no pods.
				Config: mpiJobConfig(ns, "pi2", 2, suspended),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_mpi_job.test", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("run_policy").AtMapKey("suspend"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					pods, err := testCluster.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: kubeflow.JobNameLabel + "=pi2"})
					if err != nil || len(pods.Items) != 0 {
						if err != nil {
							return err
						}
						return fmt.Errorf("a suspended job has %d pods", len(pods.Items))
					}
					return nil
				},
			},
			{
				// Resumed in place, then waited for.
				Config: mpiJobConfig(ns, "pi2", 2, resumed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_mpi_job.test", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
				},
			},
			{
				// Another worker count: the job is replaced.
				Config: mpiJobConfig(ns, "pi2", 3, resumed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_mpi_job.test", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_mpi_job.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
				},
				Check: checkMPIJob(ns, "pi2", func(job *kubeflow.MPIJob) error {
					if job.WorkerReplicas() != 3 {
						return fmt.Errorf("%d workers", job.WorkerReplicas())
					}
					return nil
				}),
			},
		},
	})
}

func checkMPIJob(ns, name string, check func(*kubeflow.MPIJob) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cl, err := mpiTestClient()
		if err != nil {
			return err
		}
		job := &kubeflow.MPIJob{}
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
			return err
		}
		return check(job)
	}
}

func mpiTestClient() (client.Client, error) {
	return client.New(testCluster.Config, client.Options{Scheme: mpiJobsScheme})
}

// TestAccMPIJob_failure: a worker that fails fails the apply, which names
// the worker and its exit code; the job stays in state (tainted), so the
// next apply replaces it.
func TestAccMPIJob_failure(t *testing.T) {
	ns := mpiNamespace(t)
	stop := make(chan struct{})
	defer close(stop)
	// Play the worker's program: it exits 3 once running.
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			pod, err := testCluster.Client.CoreV1().Pods(ns).Get(context.Background(), "crash-worker-1", metav1.GetOptions{})
			if err == nil && pod.Status.Phase == corev1.PodRunning && pod.Annotations[testcluster.AnnotationExitCode] == "" {
				_ = testcluster.FinishTaskPod(context.Background(), testCluster.Client, ns, pod.Name, testcluster.TaskPodResult{ExitCode: 3})
			}
		}
	}()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      mpiJobConfig(ns, "crash", 2, `  launcher_creation_policy = "WaitForWorkersReady"`),
			ExpectError: regexp.MustCompile(`the MPI job failed \(WorkerFailed\)(.|\s)*worker\s+crash-worker-1\s+failed:\s+container\s+worker\s+exited\s+with\s+code\s+3`),
		}},
	})
}

// TestAccMPIJob_badInput: what the API server would refuse is refused at
// plan time, on the attribute at fault, and nothing is created.
func TestAccMPIJob_badInput(t *testing.T) {
	ns := "mpi-bad"
	for _, tc := range []struct {
		name, config string
		want         string
	}{
		{"zero workers", mpiJobConfig(ns, "pi", 0, ""), `worker.replicas: Invalid value: 0: must be at least 1`},
		{"name too long", mpiJobConfig(ns, strings.Repeat("a", 55), 2, ""), `name: Too long`},
		{"name too long for the workers", mpiJobConfig(ns, strings.Repeat("b", 54), 100, ""), `is too long for 100\s+workers`},
		{"name not a DNS-1035 label", mpiJobConfig(ns, "1pi", 2, ""), `name: Invalid value: "1pi"`},
		{"zero slots", mpiJobConfig(ns, "pi", 2, "  slots_per_worker = 0"), `slots_per_worker`},
		{"relative SSH path", strings.Replace(mpiJobConfig(ns, "pi", 2, ""), `"/home/mpiuser/.ssh"`, `"home/.ssh"`, 1), `must be an absolute path`},
		{"unknown implementation", mpiJobConfig(ns, "pi", 2, `  implementation = "OpenMP"`), `implementation`},
		{"waiting for no workers", mpiJobConfig(ns, "pi", 0, "  run_launcher_as_worker = true\n  launcher_creation_policy = \"WaitForWorkersReady\""), `WaitForWorkersReady|needs at least one worker`},
		{"gang larger than the job", mpiJobConfig(ns, "pi", 2, "  run_policy = { scheduling_policy = { min_available = 9 } }"), `min_available: Invalid value: 9`},
		{"launcher restarting Always", strings.Replace(mpiJobConfig(ns, "pi", 2, ""), "run_as_user = 1000\n    resources   = { cpu = \"1\"", "run_as_user = 1000\n    restart_policy = \"Always\"\n    resources   = { cpu = \"1\"", 1), `restart_policy`},
		{"zero deadline", mpiJobConfig(ns, "pi", 2, "  run_policy = { active_deadline_seconds = 0 }"), `active_deadline_seconds`},
		{"unknown managed_by", mpiJobConfig(ns, "pi", 2, `  run_policy = { managed_by = "someone" }`), `managed_by`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
}
