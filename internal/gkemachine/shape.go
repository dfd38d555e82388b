package gkemachine

import (
	"fmt"
	"slices"
	"strings"
)

// Accelerator is one guest_accelerator of a node pool.
type Accelerator struct {
	Type             string
	Count            int64
	PartitionSize    string
	DriverVersion    string
	SharingStrategy  string
	MaxSharedClients int64
}

// Autoscaling is a node pool's autoscaling: per-zone limits (Min, Max) or
// total ones (TotalMin, TotalMax), never both.
type Autoscaling struct {
	Min, Max           int64
	TotalMin, TotalMax int64
}

// PerZone reports whether the limits are per zone.
func (a Autoscaling) PerZone() bool { return a.TotalMin == 0 && a.TotalMax == 0 }

// PoolShape is what decides whether GKE can make a node pool.
type PoolShape struct {
	MachineType  string
	Accelerators []Accelerator
	// TPUTopology is placement_policy.tpu_topology.
	TPUTopology string
	// NodeCount is the per-zone node count, nil when autoscaling decides.
	NodeCount   *int64
	Autoscaling *Autoscaling
	// Zones is the number of node locations (0: the cluster's).
	Zones int
}

// Problem is one reason GKE refuses a shape, at a path of the node pool's
// Terraform schema (such as node_config.guest_accelerator.0.type).
type Problem struct {
	Path    string
	Message string
}

func (p Problem) Error() string { return p.Path + ": " + p.Message }

// Check returns every reason GKE refuses the shape, and the TPU slice the
// pool forms (nil for a machine without TPUs).
func (s PoolShape) Check() ([]Problem, *Slice) {
	var problems []Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if a := s.Autoscaling; a != nil {
		switch {
		case !a.PerZone() && (a.Min != 0 || a.Max != 0):
			add("autoscaling", "set per-zone limits (min_node_count, max_node_count) or total limits (total_min_node_count, total_max_node_count), not both")
		case a.PerZone() && a.Min > a.Max:
			add("autoscaling.min_node_count", "min_node_count (%d) is more than max_node_count (%d)", a.Min, a.Max)
		case !a.PerZone() && a.TotalMin > a.TotalMax:
			add("autoscaling.total_min_node_count", "total_min_node_count (%d) is more than total_max_node_count (%d)", a.TotalMin, a.TotalMax)
		}
	}
	m, err := Lookup(s.MachineType)
	if err != nil {
		add("node_config.machine_type", "%s", err)
		return problems, nil
	}
	for i, acc := range s.Accelerators {
		problems = append(problems, checkAccelerator(m, i, acc)...)
	}
	if m.TPU == nil {
		if s.TPUTopology != "" {
			add("placement_policy.tpu_topology", "%s is not a TPU machine type: tpu_topology needs one of %s", m.Name, strings.Join(TPUMachineTypes(), ", "))
		}
		return problems, nil
	}
	topology := s.TPUTopology
	if topology == "" {
		topology = m.TPU.SingleHost[0]
	}
	slice, err := m.TPU.TPUSlice(m.Name, topology)
	if err != nil {
		add("placement_policy.tpu_topology", "%s", err)
		return problems, nil
	}
	if !slice.MultiHost {
		return problems, &slice
	}
	if s.Zones > 1 {
		add("node_locations", "a multi-host TPU slice (%s, %d hosts) lives in one zone: set one node location", topology, slice.Hosts)
	}
	if s.NodeCount != nil && *s.NodeCount != int64(slice.Hosts) && *s.NodeCount != 0 {
		add("node_count", "a %s slice of %s has %d hosts (%d chips / %d chips per host): node_count must be %d (or 0)", topology, m.Name, slice.Hosts, slice.Chips, m.TPU.Chips, slice.Hosts)
	}
	if a := s.Autoscaling; a != nil {
		switch {
		case !a.PerZone():
			add("autoscaling.max_node_count", "a multi-host TPU slice scales per zone, as a whole: set max_node_count = %d (and min_node_count 0 or %d) instead of total limits", slice.Hosts, slice.Hosts)
		case a.Max != int64(slice.Hosts):
			add("autoscaling.max_node_count", "a %s slice has %d hosts: max_node_count must be %d", topology, slice.Hosts, slice.Hosts)
		case a.Min != 0 && a.Min != int64(slice.Hosts):
			add("autoscaling.min_node_count", "a %s slice scales as a whole: min_node_count must be 0 or %d", topology, slice.Hosts)
		}
	}
	return problems, &slice
}

func checkAccelerator(m Machine, i int, acc Accelerator) []Problem {
	var problems []Problem
	base := fmt.Sprintf("node_config.guest_accelerator.%d", i)
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Path: base + "." + field, Message: fmt.Sprintf(format, args...)})
	}
	if err := GPUChoice(m, acc.Type, acc.Count); err != nil {
		field := "type"
		if _, known := LookupGPU(acc.Type); known && (m.GPU == acc.Type || m.Family == "n1") {
			field = "count"
		}
		add(field, "%s", err)
		return problems
	}
	g, _ := LookupGPU(acc.Type)
	if acc.PartitionSize != "" && !slices.Contains(g.Partitions, acc.PartitionSize) {
		if len(g.Partitions) == 0 {
			add("gpu_partition_size", "%s cannot be partitioned (multi-instance GPUs are A100 and H100)", acc.Type)
		} else {
			add("gpu_partition_size", "%q is not a partition of %s: valid sizes are %s", acc.PartitionSize, acc.Type, strings.Join(g.Partitions, ", "))
		}
	}
	if acc.DriverVersion != "" && !slices.Contains(GPUDriverVersions, acc.DriverVersion) {
		add("gpu_driver_installation_config.gpu_driver_version", "%q is not a driver version: valid values are %s", acc.DriverVersion, strings.Join(GPUDriverVersions, ", "))
	}
	if acc.SharingStrategy != "" {
		if !slices.Contains(GPUSharingStrategies, acc.SharingStrategy) {
			add("gpu_sharing_config.gpu_sharing_strategy", "%q is not a sharing strategy: valid values are %s", acc.SharingStrategy, strings.Join(GPUSharingStrategies, ", "))
		}
		switch {
		case acc.MaxSharedClients < 2:
			add("gpu_sharing_config.max_shared_clients_per_gpu", "sharing a GPU needs at least 2 clients, got %d", acc.MaxSharedClients)
		case acc.SharingStrategy == "MPS" && acc.MaxSharedClients > MaxMPSClients:
			add("gpu_sharing_config.max_shared_clients_per_gpu", "MPS shares a GPU among at most %d clients, got %d", MaxMPSClients, acc.MaxSharedClients)
		}
	}
	return problems
}
