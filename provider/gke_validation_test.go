package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccGKE_badInput: every mistake is refused at plan time, before any
// call to GKE, by a diagnostic that names the attribute and the valid
// choices.
func TestAccGKE_badInput(t *testing.T) {
	provider := `provider "kubeflow" {
  google {
    project                   = "kfstack-test"
    access_token              = "unused"
    container_custom_endpoint = "127.0.0.1:1"
    container_custom_endpoint_insecure = true
  }
}
`
	pool := func(body string) string {
		return provider + `
resource "kubeflow_gke_node_pool" "p" {
  cluster  = "projects/kfstack-test/locations/us-central1-a/clusters/c"
` + body + "\n}\n"
	}
	cluster := func(body string) string {
		return provider + `
resource "kubeflow_gke_cluster" "c" {
` + body + "\n}\n"
	}
	cases := []struct {
		name, config, want string
	}{
		{"unknown machine type", pool(`node_config { machine_type = "x9-huge-1" }`), `node_config.machine_type.*unknown machine type "x9-huge-1"`},
		{"A100 on a G2 machine", pool(`node_config {
  machine_type = "g2-standard-8"
  guest_accelerator {
    type  = "nvidia-tesla-a100"
    count = 1
  }
}`), `guest_accelerator.0.type.*g2-standard-8 comes with nvidia-l4 GPUs.*a2-highgpu-1g`},
		{"L4 count of a G2 machine", pool(`node_config {
  machine_type = "g2-standard-24"
  guest_accelerator {
    type  = "nvidia-l4"
    count = 1
  }
}`), `guest_accelerator.0.count.*count must be 2`},
		{"H100 on E2", pool(`node_config {
  machine_type = "e2-standard-8"
  guest_accelerator {
    type  = "nvidia-h100-80gb"
    count = 8
  }
}`), `cannot take nvidia-h100-80gb GPUs.*a3-highgpu-8g`},
		{"T4 count 3 on N1", pool(`node_config {
  machine_type = "n1-standard-8"
  guest_accelerator {
    type  = "nvidia-tesla-t4"
    count = 3
  }
}`), `guest_accelerator.0.count.*counts of 1, 2, 4`},
		{"unknown GPU", pool(`node_config {
  machine_type = "n1-standard-8"
  guest_accelerator {
    type  = "nvidia-b300"
    count = 1
  }
}`), `unknown accelerator type "nvidia-b300": valid types are nvidia-l4`},
		{"MIG partition of another GPU", pool(`node_config {
  machine_type = "a2-highgpu-1g"
  guest_accelerator {
    type               = "nvidia-tesla-a100"
    count              = 1
    gpu_partition_size = "1g.10gb"
  }
}`), `gpu_partition_size.*valid sizes are 1g.5gb`},
		{"driver version", pool(`node_config {
  machine_type = "g2-standard-4"
  guest_accelerator {
    type  = "nvidia-l4"
    count = 1
    gpu_driver_installation_config {
      gpu_driver_version = "NEWEST"
    }
  }
}`), `gpu_driver_version.*valid values are GPU_DRIVER_VERSION_UNSPECIFIED, INSTALLATION_DISABLED, DEFAULT, LATEST`},
		{"sharing strategy", pool(`node_config {
  machine_type = "g2-standard-4"
  guest_accelerator {
    type  = "nvidia-l4"
    count = 1
    gpu_sharing_config {
      gpu_sharing_strategy       = "SPLIT"
      max_shared_clients_per_gpu = 2
    }
  }
}`), `gpu_sharing_strategy.*valid values are TIME_SHARING, MPS`},
		{"MPS clients", pool(`node_config {
  machine_type = "g2-standard-4"
  guest_accelerator {
    type  = "nvidia-l4"
    count = 1
    gpu_sharing_config {
      gpu_sharing_strategy       = "MPS"
      max_shared_clients_per_gpu = 64
    }
  }
}`), `max_shared_clients_per_gpu.*at most 48`},
		{"TPU topology of another machine", pool(`node_config { machine_type = "ct5lp-hightpu-1t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x4"
}`), `placement_policy.tpu_topology.*valid topologies are 1x1`},
		{"TPU topology not a shape", pool(`node_config { machine_type = "ct5lp-hightpu-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "3x3"
}`), `tpu_topology.*valid topologies are 2x2, 2x4, 4x4, 4x8, 8x8, 8x16, 16x16`},
		{"2-D topology on v5p", pool(`node_config { machine_type = "ct5p-hightpu-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x4"
}`), `tpu_topology.*2x2x1, 2x2x2`},
		{"multi-host node count", pool(`node_count = 3
node_locations = ["us-central1-a"]
node_config { machine_type = "ct5lp-hightpu-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x4"
}`), `node_count.*4 hosts \(16 chips / 4 chips per host\): node_count must be 4`},
		{"multi-host in three zones", pool(`node_count = 4
node_locations = ["us-central1-a", "us-central1-b", "us-central1-c"]
node_config { machine_type = "ct6e-standard-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x4"
}`), `node_locations.*lives in one zone`},
		{"multi-host with total limits", pool(`node_locations = ["us-central1-a"]
autoscaling { total_max_node_count = 8 }
node_config { machine_type = "ct5lp-hightpu-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x8"
}`), `autoscaling.max_node_count.*set max_node_count = 8`},
		{"multi-host max", pool(`node_locations = ["us-central1-a"]
autoscaling {
  min_node_count = 0
  max_node_count = 4
}
node_config { machine_type = "ct5lp-hightpu-4t" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "4x8"
}`), `autoscaling.max_node_count.*max_node_count must be 8`},
		{"topology without compact placement", pool(`node_config { machine_type = "ct5lp-hightpu-4t" }
placement_policy { tpu_topology = "2x2" }`), `placement_policy.type[\s\S]*needs type = "COMPACT"`},
		{"topology on a CPU machine", pool(`node_config { machine_type = "e2-standard-4" }
placement_policy {
  type         = "COMPACT"
  tpu_topology = "2x2"
}`), `not a TPU machine type: tpu_topology needs one of ct5lp-hightpu-1t`},
		{"per-zone and total limits", pool(`autoscaling {
  max_node_count       = 3
  total_max_node_count = 9
}`), `not both`},
		{"min above max", pool(`autoscaling {
  min_node_count = 5
  max_node_count = 3
}`), `min_node_count \(5\) is more than max_node_count \(3\)`},
		{"node_count with autoscaling", pool(`node_count = 2
autoscaling { max_node_count = 3 }`), `node_count: cannot be set with autoscaling`},
		{"name and name_prefix", pool(`name = "a"
name_prefix = "b"`), `name_prefix[\s\S]*"name"`},
		{"pool name", pool(`name = "GPU_Pool"`), `must be lower-case letters, digits and hyphens`},
		{"taint effect", pool(`node_config {
  taint {
    key    = "a"
    value  = "b"
    effect = "NoSchedule"
  }
}`), `effect[\s\S]*NO_SCHEDULE`},
		{"image type", pool(`node_config { image_type = "COS" }`), `image_type[\s\S]*COS_CONTAINERD`},
		{"disk size", pool(`node_config { disk_size_gb = 5 }`), `disk_size_gb[\s\S]*at least 10`},
		{"specific reservation without key", pool(`node_config {
  reservation_affinity { consume_reservation_type = "SPECIFIC_RESERVATION" }
}`), `reservation_affinity.key[\s\S]*SPECIFIC_RESERVATION needs key`},
		{"queued provisioning without autoscaling", pool(`queued_provisioning { enabled = true }`), `queued_provisioning.enabled[\s\S]*needs autoscaling`},
		{"cluster name", cluster(`name = "ML_Cluster"
location = "us-central1"`), `name[\s\S]*lower-case letters`},
		{"cluster location", cluster(`name = "ml"
location = "US-Central"`), `location[\s\S]*region such as us-central1`},
		{"workload pool of another project", cluster(`name = "ml"
location = "us-central1"
project = "kfstack-test"
workload_identity_config { workload_pool = "other-project.svc.id.goog" }`), `workload_pool[\s\S]*kfstack-test.svc.id.goog`},
		{"master range", cluster(`name = "ml"
location = "us-central1"
private_cluster_config {
  enable_private_nodes   = true
  master_ipv4_cidr_block = "172.16.0.0/24"
}`), `master_ipv4_cidr_block[\s\S]*/28`},
		{"release channel", cluster(`name = "ml"
location = "us-central1"
release_channel { channel = "FAST" }`), `channel[\s\S]*REGULAR`},
		{"node location of another region", cluster(`name = "ml"
location = "us-central1"
node_locations = ["europe-west4-a"]`), `node_locations[\s\S]*not a zone of us-central1`},
		{"resource label", cluster(`name = "ml"
location = "us-central1"
resource_labels = { Team = "a" }`), `resource_labels[\s\S]*lower-case letter`},
	}
	t.Logf("%d bad inputs", len(cases))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:   tc.config,
					PlanOnly: true,
					// Terraform wraps long messages: a space matches any run of blanks.
					ExpectError: regexp.MustCompile("(?s)" + strings.ReplaceAll(tc.want, " ", `\s+`)),
				}},
			})
		})
	}
}
