package provider

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextensionsv1client "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/typed/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
)

func crdClient() apiextensionsv1client.CustomResourceDefinitionInterface {
	return apiextensionsclient.NewForConfigOrDie(testCluster.Config).ApiextensionsV1().CustomResourceDefinitions()
}

func runtimeConfig(ns, body string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_runtime" "test" {
  namespace = %q
%s
}
`, ns, body)
}

// runtimeCRDsExist reports whether the runtime's CRDs are in the test
// cluster: startRuntime makes them for the pipeline tests, and
// kubeflow_runtime then adopts them instead of owning them.
func runtimeCRDsExist(t *testing.T) bool {
	t.Helper()
	names, err := kfruntime.CRDNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		_, err := crdClient().Get(context.Background(), n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return true
}

// checkRuntimeGone checks that destroy removed the controller, its RBAC and
// its namespace, and the CRDs unless they were adopted.
func checkRuntimeGone(ns string, crdsKept bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx := context.Background()
		if err := checkNamespaceGone(ns)(nil); err != nil {
			return err
		}
		if _, err := testCluster.Client.RbacV1().ClusterRoles().Get(ctx, kfruntime.ClusterRoleName(ns), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ClusterRole %s is still there after destroy (%v)", kfruntime.ClusterRoleName(ns), err) //nolint:errorlint // nil when it exists
		}
		if _, err := testCluster.Client.RbacV1().ClusterRoleBindings().Get(ctx, kfruntime.ClusterRoleName(ns), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ClusterRoleBinding %s is still there after destroy (%v)", kfruntime.ClusterRoleName(ns), err) //nolint:errorlint // nil when it exists
		}
		names, err := kfruntime.CRDNames()
		if err != nil {
			return err
		}
		for _, n := range names {
			crd, err := crdClient().Get(ctx, n, metav1.GetOptions{})
			switch {
			case crdsKept && err != nil:
				return fmt.Errorf("adopted CRD %s was deleted: %w", n, err)
			case crdsKept && crd.DeletionTimestamp != nil:
				return fmt.Errorf("adopted CRD %s is being deleted", n)
			case !crdsKept && err == nil:
				return fmt.Errorf("CRD %s is still there after destroy", n)
			case !crdsKept && !apierrors.IsNotFound(err):
				return fmt.Errorf("reading CRD %s: %w", n, err)
			}
		}
		return nil
	}
}

func TestAccRuntime_badInput(t *testing.T) {
	ns := uniqueName("rt-bad")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      runtimeConfig(ns, `  image = "Not An Image"`),
				ExpectError: wrappedError(`image: "Not An Image" is not an image reference`),
			},
			{
				Config:      runtimeConfig(ns, `  replicas = -1`),
				ExpectError: wrappedError(`Attribute replicas value must be between 0 and 10, got: -1`),
			},
			{
				Config:      runtimeConfig(ns, `  pipeline_root = "http://minio.example.com/artifacts"`),
				ExpectError: wrappedError(`pipeline_root: "http://minio.example.com/artifacts": the scheme must be gs://, s3:// or file://`),
			},
			{
				Config:      runtimeConfig(ns, `  tolerations = [{ key = "gpu", operator = "Sometimes" }]`),
				ExpectError: wrappedError(`Attribute tolerations\[0\].operator value must be one of`),
			},
			{
				Config:      runtimeConfig(ns, `  tolerations = [{ operator = "Exists" }, { key = "gpu", operator = "Exists", value = "yes" }]`),
				ExpectError: wrappedError(`tolerations\[1\]: operator Exists takes no value`),
			},
			{
				Config:      runtimeConfig(ns, `  tolerations = [{ key = "gpu", effect = "NoSchedule", toleration_seconds = 60 }]`),
				ExpectError: wrappedError(`tolerations\[0\]: toleration_seconds needs the NoExecute effect`),
			},
			{
				Config:      runtimeConfig(ns, `  resources = { limits = { memory = "lots" } }`),
				ExpectError: wrappedError(`resources.limits\["memory"\]: "lots" is not a quantity`),
			},
			{
				// Refused at plan time, before anything is applied.
				Config:      runtimeConfig(ns, "  replicas = 0\n  webhooks = true"),
				PlanOnly:    true,
				ExpectError: wrappedError(`webhooks: the controller serves the admission webhooks, so they need replicas of at least 1`),
			},
			{
				Config:      runtimeConfig(ns, `  max_running_tasks = 0`),
				ExpectError: wrappedError(`Attribute max_running_tasks value must be at least 1, got: 0`),
			},
			{
				Config:      runtimeConfig(ns, `  task_image_mirrors = { "docker.io" = "not a registry" }`),
				ExpectError: wrappedError(`task_image_mirrors: mirror "docker.io": replacement "not a registry" must be a registry host`),
			},
			{
				Config:      runtimeConfig("Not_A_Namespace", ""),
				ExpectError: wrappedError(`namespace: "Not_A_Namespace" is not a valid name`),
			},
			{
				Config:      runtimeConfig(ns, `  image_registry = "Bad Registry"`),
				ExpectError: wrappedError(`image_registry: "Bad Registry" must be a registry host with an optional path`),
			},
		},
	})
	if err := checkNamespaceGone(ns)(nil); err != nil {
		t.Errorf("a failed install left something behind: %v", err)
	}
}

// TestAccRuntime_uninstall installs the runtime and destroys it: the
// controller, its RBAC and namespace go, and the CRDs too when this
// install made them. Run alone (-run TestAccRuntime) it makes them; after
// the pipeline tests, which made them, it adopts them and keeps them.
func TestAccRuntime_uninstall(t *testing.T) {
	ns := uniqueName("rt-gone")
	adopted := runtimeCRDsExist(t)
	t.Logf("the runtime's CRDs exist before the install (adopted, kept on destroy): %v", adopted)
	// Adopted, the MPIJob CRD reads as another installation's, whose
	// controller (mpi-operator) then owns MPIJobs.
	mpi := regexp.MustCompile(`^on \(mpi_jobs = auto\)`)
	if adopted {
		mpi = regexp.MustCompile(`^off \(mpi_jobs = auto\): the CRD mpijobs.kubeflow.org was installed by another tool`)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkRuntimeGone(ns, adopted),
		Steps: []resource.TestStep{{
			Config: runtimeConfig(ns, `  replicas = 2`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
				// The namespace, ServiceAccount, RBAC (with the MPIJob
				// permissions and roles), Deployment, metrics Service, the metrics-reader role, 5 CRDs
				// and the members' aggregated roles (view, edit).
				statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("objects"), knownvalue.Int64Exact(20)),
				statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("mpi_jobs"), knownvalue.StringExact("auto")),
				statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("mpi_job_controller"), knownvalue.StringRegexp(mpi)),
				statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("crds"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("experiments.pipelines.kfstack.dev"), knownvalue.StringExact("mpijobs.kubeflow.org"),
					knownvalue.StringExact("pipelineruns.pipelines.kfstack.dev"), knownvalue.StringExact("pipelines.pipelines.kfstack.dev"),
					knownvalue.StringExact("schedules.pipelines.kfstack.dev"),
				})),
			},
			Check: func(*terraform.State) error {
				d, err := testCluster.Client.AppsV1().Deployments(ns).Get(context.Background(), kfruntime.ControllerName, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if d.Status.AvailableReplicas != 2 {
					return fmt.Errorf("available replicas = %d, want 2", d.Status.AvailableReplicas)
				}
				return nil
			},
		}},
	})
}

// TestAccRuntime_basic installs the runtime beside a pipeline and a run
// that depend on it, updates the controller in place, repairs an edit
// made out of band, and imports it.
func TestAccRuntime_basic(t *testing.T) {
	teamNS := pipelineNamespace(t) // the in-process controller runs the run: KWOK runs no pod
	ns := uniqueName("rt")
	ctx := context.Background()
	var deploymentUID types.UID
	base := runtimeConfig(ns, "")
	withPipeline := func(runtime string) string {
		return runtime + fmt.Sprintf(`
resource "kubeflow_pipeline" "test" {
  name       = "greet"
  namespace  = %q
%s
  depends_on = [kubeflow_runtime.test]
}

resource "kubeflow_run" "test" {
  name       = "first"
  namespace  = %q
  pipeline   = kubeflow_pipeline.test.name
  executor   = "local"
  parameters = { who = "runtime" }
}
`, teamNS, greetDAG("hello"), teamNS)
	}
	updated := runtimeConfig(ns, `
  image         = "registry.example.com/kfstack/kfstack-runtime:v9.9.9"
  replicas      = 0
  pipeline_root = "s3://artifacts/kfstack"
  node_selector = { "kfstack.dev/pool" = "system" }
  tolerations   = [{ key = "dedicated", operator = "Equal", value = "system", effect = "NoSchedule" }]
  resources     = { requests = { cpu = "200m", memory = "256Mi" }, limits = { memory = "1Gi" } }

  max_running_tasks  = 50
  task_image_mirrors = { "docker.io" = "mirror.example.com/dockerhub", "gcr.io/team" = "mirror.example.com/team" }
`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkRuntimeGone(ns, true),
		Steps: []resource.TestStep{
			{
				Config: withPipeline(base),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("version"), knownvalue.StringExact("test")),
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("drift"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("kubeflow_pipeline.test", tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("phase"), knownvalue.StringExact("Succeeded")),
				},
				Check: func(*terraform.State) error {
					d, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					deploymentUID = d.UID
					c := d.Spec.Template.Spec.Containers[0]
					if c.Image != "ghcr.io/kfstack/kfstack-runtime:test" || !slices.Contains(c.Args, "--runtime-image="+c.Image) {
						return fmt.Errorf("image %s, args %v: want the provider's version", c.Image, c.Args)
					}
					if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
						return fmt.Errorf("security context %+v", sc)
					}
					if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
						return fmt.Errorf("probes %+v %+v", c.LivenessProbe, c.ReadinessProbe)
					}
					role, err := testCluster.Client.RbacV1().ClusterRoles().Get(ctx, kfruntime.ClusterRoleName(ns), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if !reflect.DeepEqual(role.Rules, kfruntime.Rules()) {
						return fmt.Errorf("ClusterRole rules = %+v", role.Rules)
					}
					lease, err := testCluster.Client.RbacV1().Roles(ns).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if !reflect.DeepEqual(lease.Rules, kfruntime.LeaderElectionRules()) {
						return fmt.Errorf("Role rules = %+v", lease.Rules)
					}
					_, err = testCluster.Client.CoreV1().Services(ns).Get(ctx, kfruntime.MetricsServiceName, metav1.GetOptions{})
					return err
				},
			},
			{
				// Image, replicas, pipeline root, placement and resources
				// change in place: the same Deployment rolls.
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					d, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					spec := d.Spec.Template.Spec
					c := spec.Containers[0]
					switch {
					case d.UID != deploymentUID:
						return fmt.Errorf("the Deployment was replaced")
					case c.Image != "registry.example.com/kfstack/kfstack-runtime:v9.9.9" || *d.Spec.Replicas != 0:
						return fmt.Errorf("image %s, replicas %d", c.Image, *d.Spec.Replicas)
					case !slices.Contains(c.Args, "--pipeline-root=s3://artifacts/kfstack"),
						!slices.Contains(c.Args, "--max-running-tasks=50"),
						!slices.Contains(c.Args, "--image-mirror=docker.io=mirror.example.com/dockerhub"),
						!slices.Contains(c.Args, "--image-mirror=gcr.io/team=mirror.example.com/team"):
						return fmt.Errorf("args %v", c.Args)
					case spec.NodeSelector["kfstack.dev/pool"] != "system" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule:
						return fmt.Errorf("placement %v %v", spec.NodeSelector, spec.Tolerations)
					case c.Resources.Limits.Memory().String() != "1Gi":
						return fmt.Errorf("resources %v", c.Resources)
					}
					return nil
				},
			},
			{
				// An edit out of band shows in the plan and is put back.
				PreConfig: func() {
					patch := []byte(`{"spec":{"replicas":3}}`)
					if _, err := testCluster.Client.AppsV1().Deployments(ns).Patch(ctx, kfruntime.ControllerName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("replicas"), knownvalue.Int64Exact(0)),
					},
				},
				Check: func(*terraform.State) error {
					d, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if *d.Spec.Replicas != 0 {
						return fmt.Errorf("replicas = %d after the repair", *d.Spec.Replicas)
					}
					return nil
				},
			},
			{
				ResourceName:            "kubeflow_runtime.test",
				ImportState:             true,
				ImportStateId:           ns,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

// TestAccRuntime_rollout: a controller that cannot be scheduled fails the
// apply when its rollout is waited for, and the failed install is recorded
// (Terraform replaces it next), not left unmanaged; with
// wait_for_rollout = false the apply returns once the CRDs are
// Established and ready says false, until the controller can run.
func TestAccRuntime_rollout(t *testing.T) {
	startRuntime(t) // the CRDs exist: adopted, not deleted and made again
	ns := uniqueName("rt-roll")
	nowhere := `  node_selector = { "kfstack.dev/pool" = "nowhere" }
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkRuntimeGone(ns, true),
		Steps: []resource.TestStep{
			{
				Config:      runtimeConfig(ns, nowhere+"  timeouts {\n    create = \"30s\"\n  }\n"),
				ExpectError: wrappedError(`did not become ready: timed out waiting for: Deployment ` + ns + `/kfstack-runtime-controller: 0/1 available`),
			},
			{
				Config: runtimeConfig(ns, nowhere+`  wait_for_rollout = false`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(false)),
				},
			},
			{
				Config: runtimeConfig(ns, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
				},
			},
		},
	})
}

// TestAccRuntime_disappears deletes the controller's Deployment and a CRD
// behind Terraform's back: the plan shows the drift and the apply puts
// both back.
func TestAccRuntime_disappears(t *testing.T) {
	startRuntime(t)
	ns := uniqueName("rt-drift")
	ctx := context.Background()
	const crd = "pipelineruns.pipelines.kfstack.dev"
	config := runtimeConfig(ns, "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkRuntimeGone(ns, true),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					if err := testCluster.Client.AppsV1().Deployments(ns).Delete(ctx, kfruntime.ControllerName, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
					crds := crdClient()
					if err := crds.Delete(ctx, crd, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, deleteCRDTimeout, true, func(ctx context.Context) (bool, error) {
						_, err := crds.Get(ctx, crd, metav1.GetOptions{})
						return apierrors.IsNotFound(err), nil
					})
					if err != nil {
						t.Fatalf("CRD %s was not deleted: %v", crd, err)
					}
					t.Logf("CRD %s deleted in %s", crd, time.Since(start).Round(time.Millisecond))
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_runtime.test", plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("drift"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("kubeflow_runtime.test", tfjsonpath.New("ready"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					if _, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, kfruntime.ControllerName, metav1.GetOptions{}); err != nil {
						return err
					}
					_, err := crdClient().Get(ctx, crd, metav1.GetOptions{})
					return err
				},
			},
		},
	})
}

// deleteCRDTimeout bounds waiting for a CRD's deletion: the API server's
// CRD finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute
