package gkemachine

import (
	"strings"
	"testing"
)

func count(n int64) *int64 { return &n }

func TestCheck(t *testing.T) {
	cases := []struct {
		name      string
		shape     PoolShape
		wantPath  string // "" = valid
		wantText  string
		wantHosts int
	}{
		{name: "cpu", shape: PoolShape{MachineType: "e2-standard-8", NodeCount: count(3)}},
		{name: "l4 on g2", shape: PoolShape{MachineType: "g2-standard-24", Accelerators: []Accelerator{{Type: "nvidia-l4", Count: 2}}}},
		{name: "l4 count", shape: PoolShape{MachineType: "g2-standard-24", Accelerators: []Accelerator{{Type: "nvidia-l4", Count: 1}}},
			wantPath: "node_config.guest_accelerator.0.count", wantText: "count must be 2"},
		{name: "a100 on g2", shape: PoolShape{MachineType: "g2-standard-8", Accelerators: []Accelerator{{Type: "nvidia-tesla-a100", Count: 1}}},
			wantPath: "node_config.guest_accelerator.0.type", wantText: "a2-highgpu-1g"},
		{name: "h100 on e2", shape: PoolShape{MachineType: "e2-standard-8", Accelerators: []Accelerator{{Type: "nvidia-h100-80gb", Count: 8}}},
			wantPath: "node_config.guest_accelerator.0.type", wantText: "a3-highgpu-8g"},
		{name: "t4 on n1", shape: PoolShape{MachineType: "n1-standard-8", Accelerators: []Accelerator{{Type: "nvidia-tesla-t4", Count: 2}}}},
		{name: "t4 count 3", shape: PoolShape{MachineType: "n1-standard-8", Accelerators: []Accelerator{{Type: "nvidia-tesla-t4", Count: 3}}},
			wantPath: "node_config.guest_accelerator.0.count", wantText: "1, 2, 4"},
		{name: "unknown gpu", shape: PoolShape{MachineType: "n1-standard-8", Accelerators: []Accelerator{{Type: "nvidia-b300", Count: 1}}},
			wantPath: "node_config.guest_accelerator.0.type", wantText: "nvidia-l4"},
		{name: "mig", shape: PoolShape{MachineType: "a2-highgpu-1g", Accelerators: []Accelerator{{Type: "nvidia-tesla-a100", Count: 1, PartitionSize: "1g.10gb"}}},
			wantPath: "node_config.guest_accelerator.0.gpu_partition_size", wantText: "1g.5gb"},
		{name: "mps clients", shape: PoolShape{MachineType: "g2-standard-4", Accelerators: []Accelerator{{Type: "nvidia-l4", Count: 1, SharingStrategy: "MPS", MaxSharedClients: 64}}},
			wantPath: "node_config.guest_accelerator.0.gpu_sharing_config.max_shared_clients_per_gpu"},
		{name: "v5e 2x2", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "2x2", NodeCount: count(1)}, wantHosts: 1},
		{name: "v5e 4x4", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "4x4", NodeCount: count(4), Zones: 1}, wantHosts: 4},
		{name: "v5e 16x16", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "16x16", NodeCount: count(64), Zones: 1}, wantHosts: 64},
		{name: "v5e 4x4 count", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "4x4", NodeCount: count(3), Zones: 1},
			wantPath: "node_count", wantText: "node_count must be 4"},
		{name: "v5e 4x4 on 1t", shape: PoolShape{MachineType: "ct5lp-hightpu-1t", TPUTopology: "4x4"},
			wantPath: "placement_policy.tpu_topology", wantText: "1x1"},
		{name: "v5e 3x3", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "3x3"},
			wantPath: "placement_policy.tpu_topology", wantText: "2x2, 2x4, 4x4"},
		{name: "v5e 2D on v5p", shape: PoolShape{MachineType: "ct5p-hightpu-4t", TPUTopology: "4x4"},
			wantPath: "placement_policy.tpu_topology"},
		{name: "v5p 2x2x2", shape: PoolShape{MachineType: "ct5p-hightpu-4t", TPUTopology: "2x2x2", NodeCount: count(2), Zones: 1}, wantHosts: 2},
		{name: "v5p 4x4x4", shape: PoolShape{MachineType: "ct5p-hightpu-4t", TPUTopology: "4x4x4", NodeCount: count(16), Zones: 1}, wantHosts: 16},
		{name: "v5p 3x4x4", shape: PoolShape{MachineType: "ct5p-hightpu-4t", TPUTopology: "3x4x4"}, wantPath: "placement_policy.tpu_topology"},
		{name: "v6e 2x4 on 8t", shape: PoolShape{MachineType: "ct6e-standard-8t", TPUTopology: "2x4", NodeCount: count(2)}, wantHosts: 1},
		{name: "multi-host zones", shape: PoolShape{MachineType: "ct6e-standard-4t", TPUTopology: "4x4", NodeCount: count(4), Zones: 3},
			wantPath: "node_locations"},
		{name: "multi-host total limits", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "4x8", Zones: 1, Autoscaling: &Autoscaling{TotalMax: 8}},
			wantPath: "autoscaling.max_node_count", wantText: "max_node_count = 8"},
		{name: "multi-host max", shape: PoolShape{MachineType: "ct5lp-hightpu-4t", TPUTopology: "4x8", Zones: 1, Autoscaling: &Autoscaling{Max: 4}},
			wantPath: "autoscaling.max_node_count", wantText: "must be 8"},
		{name: "autoscaling both", shape: PoolShape{MachineType: "e2-standard-4", Autoscaling: &Autoscaling{Max: 3, TotalMax: 9}},
			wantPath: "autoscaling"},
		{name: "autoscaling min>max", shape: PoolShape{MachineType: "e2-standard-4", Autoscaling: &Autoscaling{Min: 5, Max: 3}},
			wantPath: "autoscaling.min_node_count"},
		{name: "topology on cpu", shape: PoolShape{MachineType: "e2-standard-4", TPUTopology: "2x2"}, wantPath: "placement_policy.tpu_topology"},
		{name: "unknown machine", shape: PoolShape{MachineType: "x9-huge-1"}, wantPath: "node_config.machine_type", wantText: "ct5lp-hightpu-4t"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems, slice := tc.shape.Check()
			if tc.wantPath == "" {
				if len(problems) > 0 {
					t.Fatalf("unexpected problems: %v", problems)
				}
				if tc.wantHosts > 0 && (slice == nil || slice.Hosts != tc.wantHosts) {
					t.Fatalf("slice = %+v, want %d hosts", slice, tc.wantHosts)
				}
				return
			}
			if len(problems) == 0 {
				t.Fatalf("no problem, want one at %s", tc.wantPath)
			}
			if problems[0].Path != tc.wantPath || !strings.Contains(problems[0].Message, tc.wantText) {
				t.Fatalf("problem = %v, want at %s containing %q", problems[0], tc.wantPath, tc.wantText)
			}
		})
	}
}
