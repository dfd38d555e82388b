// Package gkemachine holds what GKE publishes about machine types, GPUs and
// TPU slices: the shape of each machine (CPUs, memory, attached
// accelerators), which GPUs a machine family takes, which TPU topologies a
// TPU machine forms and how many hosts a slice has. The provider checks
// node pools against it at plan time, and the fake GKE API (internal/fakegke)
// refuses the same shapes GKE refuses and gives its nodes the capacity of
// their machine type.
//
// The tables cover the machines an ML platform uses (general purpose E2,
// N1, N2, and the accelerator families G2, A2, A3, CT5LP, CT5P, CT6E); a
// machine type outside them is accepted as a CPU machine when it follows
// GKE's naming (family-class-vCPUs) and refused otherwise.
package gkemachine

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Machine is the shape of a machine type.
type Machine struct {
	Name     string
	Family   string
	CPU      int
	MemoryMB int64
	// GPU is the accelerator type attached to every machine of the type
	// (G2, A2, A3), "" for none or attachable ones (N1).
	GPU      string
	GPUCount int64
	// TPU describes a TPU machine, nil for others.
	TPU *TPUMachine
}

// TPUMachine is a TPU VM: its chips and the topologies it forms.
type TPUMachine struct {
	// Accelerator is the value of the cloud.google.com/gke-tpu-accelerator
	// node label, such as tpu-v5-lite-podslice.
	Accelerator string
	// Chips is the number of TPU chips of one host.
	Chips int
	// SingleHost lists the topologies one host forms (1x1, 2x2, 2x4 or
	// 2x2x1).
	SingleHost []string
	// MultiHost lists the topologies of multi-host slices made of these
	// hosts; for 3-D (v5p) slices, MultiHostRule decides instead.
	MultiHost []string
	// ThreeD marks 3-D topologies (AxBxC), as v5p's.
	ThreeD bool
}

// GPU is an accelerator type of node_config.guest_accelerator.
type GPU struct {
	Name string
	// Partitions are the valid gpu_partition_size values (multi-instance
	// GPU), none for GPUs without MIG.
	Partitions []string
	// AttachTo lists the families the GPU is attached to: a fixed count on
	// G2, A2, A3 machines; 1, 2, 4 (or 8) on N1.
	AttachTo []string
	// N1Counts are the counts an N1 machine may take.
	N1Counts []int64
}

var gpus = []GPU{
	{Name: "nvidia-l4", AttachTo: []string{"g2"}},
	{Name: "nvidia-tesla-a100", AttachTo: []string{"a2"}, Partitions: []string{"1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"}},
	{Name: "nvidia-a100-80gb", AttachTo: []string{"a2"}, Partitions: []string{"1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"}},
	{Name: "nvidia-h100-80gb", AttachTo: []string{"a3"}, Partitions: []string{"1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"}},
	{Name: "nvidia-h100-mega-80gb", AttachTo: []string{"a3"}},
	{Name: "nvidia-tesla-t4", AttachTo: []string{"n1"}, N1Counts: []int64{1, 2, 4}},
	{Name: "nvidia-tesla-v100", AttachTo: []string{"n1"}, N1Counts: []int64{1, 2, 4, 8}},
	{Name: "nvidia-tesla-p4", AttachTo: []string{"n1"}, N1Counts: []int64{1, 2, 4}},
}

// GPUs returns the accelerator types GKE attaches, by name.
func GPUs() []string {
	out := make([]string, len(gpus))
	for i, g := range gpus {
		out[i] = g.Name
	}
	return out
}

// LookupGPU returns an accelerator type.
func LookupGPU(name string) (GPU, bool) {
	for _, g := range gpus {
		if g.Name == name {
			return g, true
		}
	}
	return GPU{}, false
}

const gb = 1024

// fixed lists the machine types whose shape is not family-class-vCPUs
// arithmetic: accelerator machines and shared-core ones.
var fixed = map[string]Machine{
	"e2-micro":  {Family: "e2", CPU: 2, MemoryMB: 1 * gb},
	"e2-small":  {Family: "e2", CPU: 2, MemoryMB: 2 * gb},
	"e2-medium": {Family: "e2", CPU: 2, MemoryMB: 4 * gb},

	"g2-standard-4":  {Family: "g2", CPU: 4, MemoryMB: 16 * gb, GPU: "nvidia-l4", GPUCount: 1},
	"g2-standard-8":  {Family: "g2", CPU: 8, MemoryMB: 32 * gb, GPU: "nvidia-l4", GPUCount: 1},
	"g2-standard-12": {Family: "g2", CPU: 12, MemoryMB: 48 * gb, GPU: "nvidia-l4", GPUCount: 1},
	"g2-standard-16": {Family: "g2", CPU: 16, MemoryMB: 64 * gb, GPU: "nvidia-l4", GPUCount: 1},
	"g2-standard-24": {Family: "g2", CPU: 24, MemoryMB: 96 * gb, GPU: "nvidia-l4", GPUCount: 2},
	"g2-standard-32": {Family: "g2", CPU: 32, MemoryMB: 128 * gb, GPU: "nvidia-l4", GPUCount: 1},
	"g2-standard-48": {Family: "g2", CPU: 48, MemoryMB: 192 * gb, GPU: "nvidia-l4", GPUCount: 4},
	"g2-standard-96": {Family: "g2", CPU: 96, MemoryMB: 384 * gb, GPU: "nvidia-l4", GPUCount: 8},

	"a2-highgpu-1g":  {Family: "a2", CPU: 12, MemoryMB: 85 * gb, GPU: "nvidia-tesla-a100", GPUCount: 1},
	"a2-highgpu-2g":  {Family: "a2", CPU: 24, MemoryMB: 170 * gb, GPU: "nvidia-tesla-a100", GPUCount: 2},
	"a2-highgpu-4g":  {Family: "a2", CPU: 48, MemoryMB: 340 * gb, GPU: "nvidia-tesla-a100", GPUCount: 4},
	"a2-highgpu-8g":  {Family: "a2", CPU: 96, MemoryMB: 680 * gb, GPU: "nvidia-tesla-a100", GPUCount: 8},
	"a2-megagpu-16g": {Family: "a2", CPU: 96, MemoryMB: 1360 * gb, GPU: "nvidia-tesla-a100", GPUCount: 16},
	"a2-ultragpu-1g": {Family: "a2", CPU: 12, MemoryMB: 170 * gb, GPU: "nvidia-a100-80gb", GPUCount: 1},
	"a2-ultragpu-2g": {Family: "a2", CPU: 24, MemoryMB: 340 * gb, GPU: "nvidia-a100-80gb", GPUCount: 2},
	"a2-ultragpu-4g": {Family: "a2", CPU: 48, MemoryMB: 680 * gb, GPU: "nvidia-a100-80gb", GPUCount: 4},
	"a2-ultragpu-8g": {Family: "a2", CPU: 96, MemoryMB: 1360 * gb, GPU: "nvidia-a100-80gb", GPUCount: 8},

	"a3-highgpu-1g": {Family: "a3", CPU: 26, MemoryMB: 234 * gb, GPU: "nvidia-h100-80gb", GPUCount: 1},
	"a3-highgpu-2g": {Family: "a3", CPU: 52, MemoryMB: 468 * gb, GPU: "nvidia-h100-80gb", GPUCount: 2},
	"a3-highgpu-4g": {Family: "a3", CPU: 104, MemoryMB: 936 * gb, GPU: "nvidia-h100-80gb", GPUCount: 4},
	"a3-highgpu-8g": {Family: "a3", CPU: 208, MemoryMB: 1872 * gb, GPU: "nvidia-h100-80gb", GPUCount: 8},
	"a3-megagpu-8g": {Family: "a3", CPU: 208, MemoryMB: 1872 * gb, GPU: "nvidia-h100-mega-80gb", GPUCount: 8},

	"ct5lp-hightpu-1t": {Family: "ct5lp", CPU: 24, MemoryMB: 48 * gb, TPU: &v5e1},
	"ct5lp-hightpu-4t": {Family: "ct5lp", CPU: 112, MemoryMB: 192 * gb, TPU: &v5e4},
	"ct5lp-hightpu-8t": {Family: "ct5lp", CPU: 224, MemoryMB: 384 * gb, TPU: &v5e8},
	"ct5p-hightpu-4t":  {Family: "ct5p", CPU: 208, MemoryMB: 448 * gb, TPU: &v5p4},
	"ct6e-standard-1t": {Family: "ct6e", CPU: 44, MemoryMB: 176 * gb, TPU: &v6e1},
	"ct6e-standard-4t": {Family: "ct6e", CPU: 180, MemoryMB: 720 * gb, TPU: &v6e4},
	"ct6e-standard-8t": {Family: "ct6e", CPU: 180, MemoryMB: 1440 * gb, TPU: &v6e8},
}

var (
	v5eMulti = []string{"2x4", "4x4", "4x8", "8x8", "8x16", "16x16"}
	v5e1     = TPUMachine{Accelerator: "tpu-v5-lite-podslice", Chips: 1, SingleHost: []string{"1x1"}}
	v5e4     = TPUMachine{Accelerator: "tpu-v5-lite-podslice", Chips: 4, SingleHost: []string{"2x2"}, MultiHost: v5eMulti}
	v5e8     = TPUMachine{Accelerator: "tpu-v5-lite-podslice", Chips: 8, SingleHost: []string{"2x4"}}
	v5p4     = TPUMachine{Accelerator: "tpu-v5p-slice", Chips: 4, SingleHost: []string{"2x2x1"}, ThreeD: true}
	v6eMulti = []string{"2x4", "4x4", "4x8", "8x8", "8x16", "16x16"}
	v6e1     = TPUMachine{Accelerator: "tpu-v6e-slice", Chips: 1, SingleHost: []string{"1x1"}}
	v6e4     = TPUMachine{Accelerator: "tpu-v6e-slice", Chips: 4, SingleHost: []string{"2x2"}, MultiHost: v6eMulti}
	v6e8     = TPUMachine{Accelerator: "tpu-v6e-slice", Chips: 8, SingleHost: []string{"2x4"}}
)

// memoryPerCPU is the memory (MB) per vCPU of the standard classes.
var memoryPerCPU = map[string]map[string]int64{
	"e2":  {"standard": 4 * gb, "highmem": 8 * gb, "highcpu": 1 * gb},
	"n1":  {"standard": 3840, "highmem": 6656, "highcpu": 922},
	"n2":  {"standard": 4 * gb, "highmem": 8 * gb, "highcpu": 1 * gb},
	"n2d": {"standard": 4 * gb, "highmem": 8 * gb, "highcpu": 1 * gb},
	"c3":  {"standard": 4 * gb, "highmem": 8 * gb, "highcpu": 2 * gb},
}

// AcceleratorFamilies are the machine families made for accelerators.
var AcceleratorFamilies = []string{"g2", "a2", "a3", "ct5lp", "ct5p", "ct6e"}

// Lookup returns the shape of a machine type, or an error that says what
// GKE accepts.
func Lookup(machineType string) (Machine, error) {
	if m, ok := fixed[machineType]; ok {
		m.Name = machineType
		return m, nil
	}
	parts := strings.Split(machineType, "-")
	if len(parts) == 3 {
		if classes, ok := memoryPerCPU[parts[0]]; ok {
			if perCPU, ok := classes[parts[1]]; ok {
				if cpu, err := strconv.Atoi(parts[2]); err == nil && cpu > 0 && cpu <= 416 {
					return Machine{Name: machineType, Family: parts[0], CPU: cpu, MemoryMB: perCPU * int64(cpu)}, nil
				}
			}
		}
	}
	return Machine{}, fmt.Errorf("unknown machine type %q: use a general-purpose type such as e2-standard-8 or n2-standard-16, "+
		"a GPU type (g2-standard-*, a2-highgpu-*, a2-ultragpu-*, a3-highgpu-*, or n1-standard-* with an attached GPU), "+
		"or a TPU type (%s)", machineType, strings.Join(TPUMachineTypes(), ", "))
}

// TPUMachineTypes lists the TPU machine types.
func TPUMachineTypes() []string {
	var out []string
	for name, m := range fixed {
		if m.TPU != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// GPUMachineTypes lists the machine types with attached GPUs of the given
// accelerator type.
func GPUMachineTypes(accelerator string) []string {
	var out []string
	for name, m := range fixed {
		if m.GPU == accelerator {
			out = append(out, name)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(fixed[a].GPUCount, fixed[b].GPUCount), cmp.Compare(fixed[a].CPU, fixed[b].CPU))
	})
	return out
}

// Topologies lists the topologies a TPU machine forms, single-host first.
// For 3-D machines it lists examples: any shape that ThreeDTopology accepts
// is valid.
func (t *TPUMachine) Topologies() []string {
	if t.ThreeD {
		return append(slices.Clone(t.SingleHost), "2x2x2", "2x2x4", "2x4x4", "4x4x4", "4x4x8", "4x8x8", "8x8x8", "…")
	}
	return append(slices.Clone(t.SingleHost), t.MultiHost...)
}

// Chips returns the number of chips of a topology ("4x4" has 16).
func Chips(topology string) (int, error) {
	dims := strings.Split(topology, "x")
	if len(dims) < 2 || len(dims) > 3 {
		return 0, fmt.Errorf("topology %q is not of the form AxB or AxBxC", topology)
	}
	chips := 1
	for _, d := range dims {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("topology %q is not of the form AxB or AxBxC", topology)
		}
		chips *= n
	}
	return chips, nil
}

// Slice is a TPU slice: a topology formed by hosts of a machine type.
type Slice struct {
	Topology string
	Chips    int
	// Hosts is the number of nodes of one slice: chips / chips per host.
	Hosts int
	// MultiHost is set when a slice spans more than one node: the node
	// pool is then one slice, scaled as a whole.
	MultiHost bool
}

// TPUSlice checks a topology against a TPU machine and returns the slice.
func (t *TPUMachine) TPUSlice(machineType, topology string) (Slice, error) {
	chips, err := Chips(topology)
	if err != nil {
		return Slice{}, err
	}
	invalid := func() (Slice, error) {
		return Slice{}, fmt.Errorf("topology %q is not valid for %s: valid topologies are %s", topology, machineType, strings.Join(t.Topologies(), ", "))
	}
	if t.ThreeD != (strings.Count(topology, "x") == 2) {
		return invalid()
	}
	s := Slice{Topology: topology, Chips: chips, Hosts: chips / t.Chips}
	switch {
	case slices.Contains(t.SingleHost, topology):
		s.Hosts = 1
		return s, nil
	case t.ThreeD:
		if !validThreeD(topology) {
			return invalid()
		}
	case !slices.Contains(t.MultiHost, topology):
		return invalid()
	}
	if chips%t.Chips != 0 {
		return invalid()
	}
	s.MultiHost = true
	return s, nil
}

// validThreeD accepts v5p shapes: each dimension 1, 2 or a multiple of 4
// up to 32, in non-decreasing order, at least 8 chips (2x2x1 is one host).
func validThreeD(topology string) bool {
	dims := strings.Split(topology, "x")
	prev, chips := 0, 1
	for _, d := range dims {
		n, _ := strconv.Atoi(d)
		if n < prev || n > 32 || (n > 2 && n%4 != 0) {
			return false
		}
		prev, chips = n, chips*n
	}
	return chips >= 8 && chips%4 == 0
}

// GPUChoice checks an accelerator attached to a machine type: the type
// the machine takes and a count it allows. It returns a message naming
// the valid choices.
func GPUChoice(m Machine, accelerator string, count int64) error {
	g, ok := LookupGPU(accelerator)
	if !ok {
		return fmt.Errorf("unknown accelerator type %q: valid types are %s", accelerator, strings.Join(GPUs(), ", "))
	}
	switch {
	case m.TPU != nil:
		return fmt.Errorf("%s is a TPU machine type and takes no GPU: remove guest_accelerator", m.Name)
	case m.GPU != "":
		if accelerator != m.GPU {
			return fmt.Errorf("%s comes with %s GPUs, not %s; for %s use one of %s", m.Name, m.GPU, accelerator, accelerator, strings.Join(machinesFor(g), ", "))
		}
		if count != m.GPUCount {
			return fmt.Errorf("%s has %d %s GPU(s): count must be %d", m.Name, m.GPUCount, accelerator, m.GPUCount)
		}
		return nil
	case slices.Contains(g.AttachTo, m.Family):
		if !slices.Contains(g.N1Counts, count) {
			return fmt.Errorf("%s takes %s in counts of %s, not %d", m.Name, accelerator, joinInts(g.N1Counts), count)
		}
		return nil
	default:
		return fmt.Errorf("%s (family %s) cannot take %s GPUs; for %s use one of %s", m.Name, m.Family, accelerator, accelerator, strings.Join(machinesFor(g), ", "))
	}
}

func machinesFor(g GPU) []string {
	if slices.Contains(g.AttachTo, "n1") {
		return []string{"n1-standard-*", "n1-highmem-*"}
	}
	return GPUMachineTypes(g.Name)
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}

// GPUDriverVersions are the values of gpu_driver_installation_config.
var GPUDriverVersions = []string{"GPU_DRIVER_VERSION_UNSPECIFIED", "INSTALLATION_DISABLED", "DEFAULT", "LATEST"}

// GPUSharingStrategies are the values of gpu_sharing_config.
var GPUSharingStrategies = []string{"TIME_SHARING", "MPS"}

// MaxMPSClients is the most clients MPS shares one GPU among.
const MaxMPSClients = 48
