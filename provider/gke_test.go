package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/oauth"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/fakegke"
)

const gkeProject = "kfstack-test"

var (
	fakeOnce sync.Once
	fakeErr  error
	fake     *fakegke.Server
)

// fakeGKE starts (once for the package) a fake GKE API backed by the test
// cluster, serving TLS and accepting the cluster's admin token as the
// Google access token, so the same token reaches the API server.
func fakeGKE(t *testing.T) *fakegke.Server {
	t.Helper()
	fakeOnce.Do(func() {
		fake, fakeErr = fakegke.Start(fakegke.Options{
			Host: testCluster.Host, CACert: testCluster.CACert, Client: testCluster.Client,
			Token: testCluster.Token, TLS: true, StepDelay: 50 * time.Millisecond,
		})
	})
	if fakeErr != nil {
		t.Fatalf("starting the fake GKE API: %v", fakeErr)
	}
	return fake
}

// googleBlockConfig is the google block that points at the fake.
func googleBlockConfig(s *fakegke.Server) string {
	return fmt.Sprintf(`  google {
    project                                  = %q
    access_token                             = %q
    container_custom_endpoint                = %q
    container_custom_endpoint_ca_certificate = %q
  }
`, gkeProject, testCluster.Token, s.Addr(), string(s.CACert()))
}

func gkeProviderBlock(s *fakegke.Server) string {
	return "provider \"kubeflow\" {\n" + googleBlockConfig(s) + "}\n"
}

// fakeClient talks to the fake as a test would talk to GKE.
func fakeClient(t *testing.T, s *fakegke.Server) *container.ClusterManagerClient {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr(),
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(s.CertPool(), "")),
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testCluster.Token})}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClusterManagerClient(context.Background(), option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gkeName is a unique GKE name (at most 40 characters).
func gkeName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000)
}

func clusterBlock(name string) string {
	return fmt.Sprintf(`
resource "kubeflow_gke_cluster" "this" {
  name                = %q
  location            = "us-central1-a"
  deletion_protection = false
  release_channel {
    channel = "REGULAR"
  }
  workload_identity_config {
    workload_pool = "%s.svc.id.goog"
  }
  addons_config {
    gcs_fuse_csi_driver_config {
      enabled = true
    }
  }
}
`, name, gkeProject)
}

// poolNodes lists the KWOK nodes of a fake cluster's pool.
func poolNodes(cluster, pool string) ([]corev1.Node, error) {
	list, err := testCluster.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{
		LabelSelector: fmt.Sprintf("%s=%s,%s=%s", fakegke.ClusterLabel, cluster, fakegke.NodePoolLabel, pool),
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// checkPoolNodes checks the nodes of a pool: their number and what each has.
func checkPoolNodes(cluster, pool string, want int, check func(corev1.Node) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		nodes, err := poolNodes(cluster, pool)
		if err != nil {
			return err
		}
		if len(nodes) != want {
			return fmt.Errorf("pool %s has %d nodes, want %d", pool, len(nodes), want)
		}
		for _, n := range nodes {
			if check != nil {
				if err := check(n); err != nil {
					return fmt.Errorf("node %s: %w", n.Name, err)
				}
			}
		}
		return nil
	}
}

// hasTaint reports a NoSchedule taint (the effect of GKE's and the tests').
func hasTaint(n corev1.Node, key, value string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Value == value && t.Effect == corev1.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}

// createCalls checks how often the fake was asked to create node pools:
// an update in place makes none.
func createCalls(s *fakegke.Server, want *int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got := s.Calls()["CreateNodePool"]
		if *want >= 0 && got != *want {
			return fmt.Errorf("CreateNodePool was called %d times, want %d (a pool was replaced)", got, *want)
		}
		*want = got
		return nil
	}
}

func gpuPoolConfig(cluster, labels, taint string, count int, machine string) string {
	return gkeProviderBlock(fakeGKEForConfig) + clusterBlock(cluster) + fmt.Sprintf(`
resource "kubeflow_gke_node_pool" "gpu" {
  cluster    = kubeflow_gke_cluster.this.id
  name       = "gpu-l4"
  node_count = %d
  node_config {
    machine_type = "g2-standard-24"
    labels       = %s
    taint {
      key    = "team"
      value  = %q
      effect = "NO_SCHEDULE"
    }
    guest_accelerator {
      type  = "nvidia-l4"
      count = 2
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }
  }
}

resource "kubeflow_gke_node_pool" "cpu" {
  cluster = kubeflow_gke_cluster.this.id
  name    = "cpu-pool"
  autoscaling {
    min_node_count = 1
    max_node_count = 3
  }
  node_config {
    machine_type = %q
  }
}

resource "kubeflow_gke_node_pool" "tpu" {
  cluster    = kubeflow_gke_cluster.this.id
  name       = "tpu-v5e"
  node_count = 4
  node_config {
    machine_type = "ct5lp-hightpu-4t"
  }
  placement_policy {
    type         = "COMPACT"
    tpu_topology = "4x4"
  }
}
`, count, labels, taint, machine)
}

// fakeGKEForConfig is the fake the config helpers point at, set by each test.
var fakeGKEForConfig *fakegke.Server

func TestAccGKENodePool_basic(t *testing.T) {
	s := fakeGKE(t)
	fakeGKEForConfig = s
	cluster := gkeName("basic")
	creates := -1
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy: func(*terraform.State) error {
			nodes, err := testCluster.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: fakegke.ClusterLabel + "=" + cluster})
			if err != nil {
				return err
			}
			if len(nodes.Items) > 0 {
				return fmt.Errorf("%d nodes of cluster %s are left", len(nodes.Items), cluster)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: gpuPoolConfig(cluster, `{ team = "vision" }`, "vision", 1, "e2-standard-4"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_gke_cluster.this", tfjsonpath.New("id"), knownvalue.StringExact("projects/"+gkeProject+"/locations/us-central1-a/clusters/"+cluster)),
					statecheck.ExpectKnownValue("kubeflow_gke_node_pool.gpu", tfjsonpath.New("id"), knownvalue.StringExact("projects/"+gkeProject+"/locations/us-central1-a/clusters/"+cluster+"/nodePools/gpu-l4")),
					statecheck.ExpectKnownValue("kubeflow_gke_node_pool.cpu", tfjsonpath.New("node_count"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("kubeflow_gke_node_pool.tpu", tfjsonpath.New("node_count"), knownvalue.Int64Exact(4)),
				},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrSet("kubeflow_gke_cluster.this", "endpoint"),
					checkPoolNodes(cluster, "default-pool", 0, nil),
					checkPoolNodes(cluster, "gpu-l4", 1, func(n corev1.Node) error {
						if n.Labels[fakegke.AcceleratorLabel] != "nvidia-l4" || n.Labels["team"] != "vision" {
							return fmt.Errorf("labels %v", n.Labels)
						}
						if !hasTaint(n, "nvidia.com/gpu", "present") || !hasTaint(n, "team", "vision") {
							return fmt.Errorf("taints %v", n.Spec.Taints)
						}
						if gpu := n.Status.Capacity[fakegke.GPUResource]; gpu.Value() != 2 {
							return fmt.Errorf("GPU capacity %s, want 2", gpu.String())
						}
						return nil
					}),
					checkPoolNodes(cluster, "tpu-v5e", 4, func(n corev1.Node) error {
						if n.Labels[fakegke.TPUTopologyLabel] != "4x4" || n.Labels[fakegke.TPUAcceleratorLabel] != "tpu-v5-lite-podslice" {
							return fmt.Errorf("labels %v", n.Labels)
						}
						if tpu := n.Status.Capacity[fakegke.TPUResource]; tpu.Value() != 4 {
							return fmt.Errorf("TPU capacity %s, want 4", tpu.String())
						}
						return nil
					}),
					createCalls(s, &creates),
				),
			},
			{
				Config: gpuPoolConfig(cluster, `{ team = "vision" }`, "vision", 1, "e2-standard-4") + fmt.Sprintf(`
data "kubeflow_gke_cluster" "read" {
  name       = %q
  location   = "us-central1-a"
  depends_on = [kubeflow_gke_node_pool.gpu, kubeflow_gke_node_pool.cpu, kubeflow_gke_node_pool.tpu]
}
`, cluster),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("data.kubeflow_gke_cluster.read", "status", "RUNNING"),
					resource.TestCheckResourceAttr("data.kubeflow_gke_cluster.read", "node_pools.#", "3"),
					resource.TestCheckResourceAttr("data.kubeflow_gke_cluster.read", "workload_pool", gkeProject+".svc.id.goog"),
					resource.TestCheckResourceAttrPair("data.kubeflow_gke_cluster.read", "endpoint", "kubeflow_gke_cluster.this", "endpoint"),
				),
			},
			{
				ResourceName: "kubeflow_gke_node_pool.gpu", ImportState: true, ImportStateVerify: true,
				ImportStateId:           "projects/" + gkeProject + "/locations/us-central1-a/clusters/" + cluster + "/nodePools/gpu-l4",
				ImportStateVerifyIgnore: []string{"timeouts", "cluster"},
			},
			{
				ResourceName: "kubeflow_gke_cluster.this", ImportState: true, ImportStateVerify: true,
				ImportStateId:           gkeProject + "/us-central1-a/" + cluster,
				ImportStateVerifyIgnore: []string{"timeouts", "deletion_protection"},
			},
			{
				// Labels, taints, size, autoscaling and machine type change in place.
				Config: strings.Replace(gpuPoolConfig(cluster, `{ team = "vision", tier = "prod" }`, "vision-prod", 2, "e2-standard-8"),
					"max_node_count = 3", "max_node_count = 5", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_gke_node_pool.gpu", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kubeflow_gke_node_pool.cpu", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kubeflow_gke_node_pool.tpu", plancheck.ResourceActionNoop),
				}},
				Check: resource.ComposeTestCheckFunc(
					createCalls(s, &creates),
					checkPoolNodes(cluster, "gpu-l4", 2, func(n corev1.Node) error {
						if n.Labels["tier"] != "prod" || !hasTaint(n, "team", "vision-prod") || hasTaint(n, "team", "vision") {
							return fmt.Errorf("labels %v, taints %v", n.Labels, n.Spec.Taints)
						}
						return nil
					}),
					checkPoolNodes(cluster, "cpu-pool", 1, func(n corev1.Node) error {
						if cpu := n.Status.Capacity[corev1.ResourceCPU]; cpu.Value() != 8 {
							return fmt.Errorf("CPU capacity %s, want 8 (e2-standard-8)", cpu.String())
						}
						return nil
					}),
				),
			},
			{
				// Drift: a resize and a relabel out of band show in the plan.
				PreConfig: func() {
					c := fakeClient(t, s)
					ctx := context.Background()
					op, err := c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: "projects/" + gkeProject + "/locations/us-central1-a/clusters/" + cluster + "/nodePools/gpu-l4", NodeCount: 3})
					if err != nil {
						t.Fatal(err)
					}
					waitFake(t, c, cluster, op)
				},
				Config:             strings.Replace(gpuPoolConfig(cluster, `{ team = "vision", tier = "prod" }`, "vision-prod", 2, "e2-standard-8"), "max_node_count = 3", "max_node_count = 5", 1),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// The next apply puts it back.
				Config: strings.Replace(gpuPoolConfig(cluster, `{ team = "vision", tier = "prod" }`, "vision-prod", 2, "e2-standard-8"), "max_node_count = 3", "max_node_count = 5", 1),
				Check:  checkPoolNodes(cluster, "gpu-l4", 2, nil),
			},
		},
	})
}

func waitFake(t *testing.T, c *container.ClusterManagerClient, cluster string, op *containerpb.Operation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := gkeClusterID{Project: gkeProject, Location: "us-central1-a", Name: cluster}
	if err := waitOperation(ctx, c, id, op, "test"); err != nil {
		t.Fatal(err)
	}
}

func cpuPoolConfig(cluster, extra string) string {
	return gkeProviderBlock(fakeGKEForConfig) + clusterBlock(cluster) + fmt.Sprintf(`
resource "kubeflow_gke_node_pool" "cpu" {
  cluster     = kubeflow_gke_cluster.this.id
  name_prefix = "cpu"
  node_count  = 1
  node_config {
    machine_type = "e2-standard-4"
%s
  }
  lifecycle {
    create_before_destroy = true
  }
}
`, extra)
}

// TestAccGKENodePool_replace: what GKE cannot change replaces the pool,
// with a new derived name (create_before_destroy); a pool deleted out of
// band is created again; a failed operation leaves a tainted pool that
// the next apply replaces.
func TestAccGKENodePool_replace(t *testing.T) {
	s := fakeGKE(t)
	fakeGKEForConfig = s
	cluster := gkeName("repl")
	var firstName string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: cpuPoolConfig(cluster, ""),
				Check: resource.ComposeTestCheckFunc(
					resource.TestMatchResourceAttr("kubeflow_gke_node_pool.cpu", "name", regexp.MustCompile(`^cpu-[0-9a-f]{8}$`)),
					func(st *terraform.State) error {
						firstName = st.RootModule().Resources["kubeflow_gke_node_pool.cpu"].Primary.Attributes["name"]
						return nil
					},
				),
			},
			{
				Config: cpuPoolConfig(cluster, "    spot = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_gke_node_pool.cpu", plancheck.ResourceActionCreateBeforeDestroy),
					plancheck.ExpectUnknownValue("kubeflow_gke_node_pool.cpu", tfjsonpath.New("name")),
				}},
				Check: func(st *terraform.State) error {
					name := st.RootModule().Resources["kubeflow_gke_node_pool.cpu"].Primary.Attributes["name"]
					if name == firstName {
						return fmt.Errorf("the replacement kept the name %s", name)
					}
					nodes, err := poolNodes(cluster, name)
					if err != nil || len(nodes) != 1 || nodes[0].Labels["cloud.google.com/gke-spot"] != "true" {
						return fmt.Errorf("nodes of %s: %d (%w)", name, len(nodes), err)
					}
					old, err := poolNodes(cluster, firstName)
					if err != nil || len(old) != 0 {
						return fmt.Errorf("the old pool's nodes are left: %d (%w)", len(old), err)
					}
					firstName = name
					return nil
				},
			},
			{
				// Disappears: deleted behind Terraform's back, created again.
				PreConfig: func() {
					c := fakeClient(t, s)
					op, err := c.DeleteNodePool(context.Background(), &containerpb.DeleteNodePoolRequest{Name: "projects/" + gkeProject + "/locations/us-central1-a/clusters/" + cluster + "/nodePools/" + firstName})
					if err != nil {
						t.Fatal(err)
					}
					waitFake(t, c, cluster, op)
				},
				Config:             cpuPoolConfig(cluster, "    spot = true"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// A failed operation: the pool is kept in state, tainted.
				PreConfig: func() {
					s.InjectFailure(fakegke.Failure{Method: "CreateNodePool", Step: 1, Code: codes.ResourceExhausted, Message: "ZONE_RESOURCE_POOL_EXHAUSTED: us-central1-a has no e2-standard-4 left"})
				},
				Config:      cpuPoolConfig(cluster, "    spot = true"),
				ExpectError: regexp.MustCompile(`ZONE_RESOURCE_POOL_EXHAUSTED`),
			},
			{
				Config: cpuPoolConfig(cluster, "    spot = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_gke_node_pool.cpu", plancheck.ResourceActionCreateBeforeDestroy),
				}},
				Check: resource.TestCheckResourceAttr("kubeflow_gke_node_pool.cpu", "node_count", "1"),
			},
		},
	})
}

// TestAccGKE_oneApply: from nothing, one apply creates a cluster and a
// pool and, through a second provider configuration whose gke block names
// the cluster, a profile on it; the Kubernetes side authenticates with
// the provider's Google token.
func TestAccGKE_oneApply(t *testing.T) {
	s := fakeGKE(t)
	cluster := gkeName("one")
	team := uniqueName("gke-team")
	config := gkeProviderBlock(s) + fmt.Sprintf(`
provider "kubeflow" {
  alias = "cluster"
%s
  gke {
    cluster = kubeflow_gke_cluster.this.id
  }
}
`, googleBlockConfig(s)) + clusterBlock(cluster) + fmt.Sprintf(`
resource "kubeflow_gke_node_pool" "cpu" {
  cluster    = kubeflow_gke_cluster.this.id
  name       = "cpu-%s"
  node_count = 1
}

resource "kubeflow_profile" "team" {
  provider       = kubeflow.cluster
  name           = %q
  owner          = { name = "alice@example.com" }
  resource_quota = { gpu = 2 }
  depends_on     = [kubeflow_gke_node_pool.cpu]
}
`, cluster, team)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(team),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeTestCheckFunc(
					checkNamespace(team, func(*corev1.Namespace) error { return nil }),
					checkPoolNodes(cluster, "cpu-"+cluster, 1, nil),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// TestAccGKECluster_deletionProtection: a protected cluster is not
// destroyed; labels change in place.
func TestAccGKECluster_deletionProtection(t *testing.T) {
	s := fakeGKE(t)
	name := gkeName("prot")
	config := func(protect bool, label string) string {
		return gkeProviderBlock(s) + fmt.Sprintf(`
resource "kubeflow_gke_cluster" "this" {
  name                = %q
  location            = "us-central1"
  deletion_protection = %t
  resource_labels     = { env = %q }
}
`, name, protect, label)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config(true, "dev"),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("kubeflow_gke_cluster.this", "node_locations.#", "3"),
					resource.TestCheckResourceAttrSet("kubeflow_gke_cluster.this", "ca_certificate"),
				),
			},
			{
				Config: config(true, "prod"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kubeflow_gke_cluster.this", plancheck.ResourceActionUpdate),
				}},
				Check: resource.TestCheckResourceAttr("kubeflow_gke_cluster.this", "resource_labels.env", "prod"),
			},
			{
				Config:      config(true, "prod"),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`deletion_protection is true`),
			},
			{Config: config(false, "prod")},
		},
	})
}
