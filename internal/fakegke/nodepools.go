package fakegke

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kfstack/terraform-provider-kubeflow/internal/gkemachine"
)

// pool is a node pool and its current size.
type pool struct {
	proto *containerpb.NodePool
	// size is the number of nodes per zone now; GKE keeps it in the
	// instance groups, the provider reads it from the cluster's nodes.
	size int32
	busy string
}

var imageTypes = []string{"COS_CONTAINERD", "UBUNTU_CONTAINERD", "WINDOWS_LTSC_CONTAINERD"}

var diskTypes = []string{"pd-standard", "pd-balanced", "pd-ssd", "pd-extreme", "hyperdisk-balanced"}

// shapeOf is the part of a node pool GKE's shape rules look at.
func shapeOf(p *containerpb.NodePool, zonesCount int) gkemachine.PoolShape {
	cfg := p.GetConfig()
	shape := gkemachine.PoolShape{MachineType: cfg.GetMachineType(), Zones: zonesCount}
	if shape.MachineType == "" {
		shape.MachineType = "e2-medium"
	}
	for _, a := range cfg.GetAccelerators() {
		acc := gkemachine.Accelerator{Type: a.GetAcceleratorType(), Count: a.GetAcceleratorCount(), PartitionSize: a.GetGpuPartitionSize()}
		if d := a.GetGpuDriverInstallationConfig(); d != nil {
			acc.DriverVersion = d.GetGpuDriverVersion().String()
		}
		if sh := a.GetGpuSharingConfig(); sh != nil {
			acc.SharingStrategy = sh.GetGpuSharingStrategy().String()
			acc.MaxSharedClients = sh.GetMaxSharedClientsPerGpu()
		}
		shape.Accelerators = append(shape.Accelerators, acc)
	}
	shape.TPUTopology = p.GetPlacementPolicy().GetTpuTopology()
	if a := p.GetAutoscaling(); a.GetEnabled() {
		shape.Autoscaling = &gkemachine.Autoscaling{Min: int64(a.GetMinNodeCount()), Max: int64(a.GetMaxNodeCount()), TotalMin: int64(a.GetTotalMinNodeCount()), TotalMax: int64(a.GetTotalMaxNodeCount())}
	} else {
		n := int64(p.GetInitialNodeCount())
		shape.NodeCount = &n
	}
	return shape
}

// checkNodePool refuses what GKE refuses of a node pool.
func checkNodePool(p *containerpb.NodePool, clusterZones []string, location string) error {
	if err := checkName("node_pool.name", p.GetName()); err != nil {
		return err
	}
	if p.GetInitialNodeCount() < 0 {
		return status.Error(codes.InvalidArgument, "Invalid value for field 'node_pool.initial_node_count': must be at least 0.")
	}
	cfg := p.GetConfig()
	if it := cfg.GetImageType(); it != "" && !slices.Contains(imageTypes, strings.ToUpper(it)) {
		return status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.config.image_type': %q. Valid image types are %s.", it, strings.Join(imageTypes, ", "))
	}
	if dt := cfg.GetDiskType(); dt != "" && !slices.Contains(diskTypes, dt) {
		return status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.config.disk_type': %q. Valid disk types are %s.", dt, strings.Join(diskTypes, ", "))
	}
	if d := cfg.GetDiskSizeGb(); d != 0 && d < 10 {
		return status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.config.disk_size_gb': %d. Disks are at least 10 GB.", d)
	}
	if err := checkLabels("node_pool.config.resource_labels", cfg.GetResourceLabels()); err != nil {
		return err
	}
	if cfg.GetSpot() && cfg.GetPreemptible() {
		return status.Error(codes.InvalidArgument, "A node pool is either spot or preemptible.")
	}
	for _, z := range p.GetLocations() {
		if !zonePattern.MatchString(z) || region(z) != region(location) {
			return status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.locations': %q is not a zone of %s.", z, region(location))
		}
	}
	if a := p.GetAutoscaling(); a.GetEnabled() && a.GetMaxNodeCount() == 0 && a.GetTotalMaxNodeCount() == 0 {
		return status.Error(codes.InvalidArgument, "Invalid value for field 'node_pool.autoscaling.max_node_count': must be greater than zero when autoscaling is enabled.")
	}
	if pp := p.GetPlacementPolicy(); pp.GetTpuTopology() != "" && pp.GetType() == containerpb.NodePool_PlacementPolicy_TYPE_UNSPECIFIED {
		return status.Error(codes.InvalidArgument, "Invalid value for field 'node_pool.placement_policy.type': a TPU topology needs placement type COMPACT.")
	}
	zonesCount := len(p.GetLocations())
	if zonesCount == 0 {
		zonesCount = len(clusterZones)
	}
	problems, _ := shapeOf(p, zonesCount).Check()
	if len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, pr := range problems {
			msgs[i] = pr.Message
		}
		return status.Errorf(codes.InvalidArgument, "Invalid node pool %q: %s.", p.GetName(), strings.Join(msgs, "; "))
	}
	return nil
}

// newPool records a node pool being provisioned. s.mu is held.
func (s *Server) newPool(c *cluster, in *containerpb.NodePool) *pool {
	np := proto.Clone(in).(*containerpb.NodePool)
	if np.Config == nil {
		np.Config = &containerpb.NodeConfig{}
	}
	cfg := np.Config
	if cfg.MachineType == "" {
		cfg.MachineType = "e2-medium"
	}
	if cfg.DiskSizeGb == 0 {
		cfg.DiskSizeGb = 100
	}
	if cfg.DiskType == "" {
		cfg.DiskType = "pd-balanced"
	}
	if cfg.ImageType == "" {
		cfg.ImageType = "COS_CONTAINERD"
	}
	if cfg.ServiceAccount == "" {
		cfg.ServiceAccount = "default"
	}
	if len(cfg.OauthScopes) == 0 {
		cfg.OauthScopes = []string{"https://www.googleapis.com/auth/cloud-platform"}
	}
	if m, err := gkemachine.Lookup(cfg.MachineType); err == nil && m.GPU != "" && len(cfg.Accelerators) == 0 {
		cfg.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: m.GPU, AcceleratorCount: m.GPUCount}}
	}
	if len(np.Locations) == 0 {
		np.Locations = slices.Clone(c.proto.Locations)
	}
	if np.Management == nil {
		np.Management = &containerpb.NodeManagement{AutoUpgrade: true, AutoRepair: true}
	}
	if np.UpgradeSettings == nil {
		np.UpgradeSettings = &containerpb.NodePool_UpgradeSettings{MaxSurge: 1}
	}
	if np.Version == "" || np.Version == "latest" || np.Version == "-" {
		np.Version = s.opts.MasterVersion
	}
	np.SelfLink = apiPrefix + c.key + "/nodePools/" + np.Name
	np.Status = containerpb.NodePool_PROVISIONING
	np.Etag = newEtag()
	size := np.InitialNodeCount
	if a := np.Autoscaling; a.GetEnabled() {
		size = clampSize(size, a, len(np.Locations))
	}
	for _, z := range np.Locations {
		np.InstanceGroupUrls = append(np.InstanceGroupUrls, fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-grp", c.project, z, c.name, np.Name))
	}
	p := &pool{proto: np, size: size}
	c.pools[np.Name] = p
	c.poolOrder = append(c.poolOrder, np.Name)
	return p
}

// clampSize keeps a per-zone size within autoscaling's limits, as the
// cluster autoscaler would.
func clampSize(size int32, a *containerpb.NodePoolAutoscaling, zonesCount int) int32 {
	lo, hi := a.GetMinNodeCount(), a.GetMaxNodeCount()
	if a.GetTotalMaxNodeCount() > 0 || a.GetTotalMinNodeCount() > 0 {
		z := int32(max(zonesCount, 1))
		lo, hi = (a.GetTotalMinNodeCount()+z-1)/z, a.GetTotalMaxNodeCount()/z
	}
	return min(max(size, lo), hi)
}

func (s *Server) poolView(_ *cluster, p *pool) *containerpb.NodePool {
	return proto.Clone(p.proto).(*containerpb.NodePool)
}

// resizeSteps are the steps that bring a pool's nodes to size per zone
// (and to its current configuration): one step a zone, then waiting for
// the nodes to register.
func (s *Server) resizeSteps(c *cluster, p *pool, size int32) []step {
	var steps []step
	for _, z := range p.proto.Locations {
		steps = append(steps, step{name: fmt.Sprintf("NODES_RECONCILING %s/%s", p.proto.Name, z), run: func(ctx context.Context) error {
			s.mu.Lock()
			snapshot := proto.Clone(p.proto).(*containerpb.NodePool)
			s.mu.Unlock()
			return s.nodes.reconcile(ctx, c.name, c.location, snapshot, z, int(size))
		}})
	}
	steps = append(steps, step{name: "NODES_REGISTERING " + p.proto.Name, run: func(ctx context.Context) error {
		return s.nodes.waitReady(ctx, c.name, p.proto.Name)
	}})
	return steps
}

func (s *Server) lookupPool(name string) (*cluster, *pool, error) {
	c, err := s.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	_, poolID, _ := splitCluster(name)
	p, ok := c.pools[poolID]
	if !ok || poolID == "" {
		return nil, nil, status.Errorf(codes.NotFound, "Not found: %s.", name)
	}
	return c, p, nil
}

// poolBusy refuses an operation on a pool while its cluster or the pool
// runs another. s.mu is held.
func poolBusy(c *cluster, p *pool) error {
	if c.busy != "" {
		return incompatible(c.busy)
	}
	if p != nil && p.busy != "" {
		return incompatible(p.busy)
	}
	return nil
}

// ListNodePools lists a cluster's node pools.
func (s *Server) ListNodePools(_ context.Context, req *containerpb.ListNodePoolsRequest) (*containerpb.ListNodePoolsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetParent())
	if err != nil {
		return nil, err
	}
	resp := &containerpb.ListNodePoolsResponse{}
	for _, name := range c.poolOrder {
		resp.NodePools = append(resp.NodePools, s.poolView(c, c.pools[name]))
	}
	return resp, nil
}

// GetNodePool returns a node pool.
func (s *Server) GetNodePool(_ context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPool(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.poolView(c, p), nil
}

// CreateNodePool checks the pool as GKE does and starts making its nodes.
func (s *Server) CreateNodePool(_ context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	in := req.GetNodePool()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "NodePool is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := checkNodePool(in, c.proto.Locations, c.location); err != nil {
		return nil, err
	}
	if _, exists := c.pools[in.GetName()]; exists {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s/nodePools/%s.", c.key, in.GetName())
	}
	if c.proto.Status != containerpb.Cluster_RUNNING && c.proto.Status != containerpb.Cluster_RECONCILING {
		return nil, status.Errorf(codes.FailedPrecondition, "Cluster %s is %s: node pools are created in a running cluster.", c.name, c.proto.Status)
	}
	if err := poolBusy(c, nil); err != nil {
		return nil, err
	}
	if f := s.takeRejection("CreateNodePool", in.GetName()); f != nil {
		return nil, f
	}
	p := s.newPool(c, in)
	steps := append([]step{{name: "PROVISIONING_RESOURCES", run: func(context.Context) error { return nil }}}, s.resizeSteps(c, p, p.size)...)
	return s.startOperation("CreateNodePool", containerpb.Operation_CREATE_NODE_POOL, c, in.GetName(), steps, func(err error) {
		p.proto.Etag = newEtag()
		if err != nil {
			p.proto.Status = containerpb.NodePool_ERROR
			p.proto.Conditions = []*containerpb.StatusCondition{{Message: status.Convert(err).Message(), CanonicalCode: code.Code(status.Code(err))}}
			return
		}
		p.proto.Status = containerpb.NodePool_RUNNING
	}), nil
}

// DeleteNodePool drains and deletes the pool's nodes, then the pool.
func (s *Server) DeleteNodePool(_ context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPool(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := poolBusy(c, p); err != nil {
		return nil, err
	}
	if f := s.takeRejection("DeleteNodePool", p.proto.Name); f != nil {
		return nil, f
	}
	p.proto.Status = containerpb.NodePool_STOPPING
	name := p.proto.Name
	steps := []step{{name: "NODES_DRAINING " + name, run: func(ctx context.Context) error {
		return s.nodes.deletePool(ctx, c.name, name)
	}}}
	return s.startOperation("DeleteNodePool", containerpb.Operation_DELETE_NODE_POOL, c, name, steps, func(err error) {
		if err != nil {
			p.proto.Status = containerpb.NodePool_ERROR
			p.proto.Conditions = []*containerpb.StatusCondition{{Message: status.Convert(err).Message(), CanonicalCode: code.Code(status.Code(err))}}
			return
		}
		delete(c.pools, name)
		c.poolOrder = slices.DeleteFunc(c.poolOrder, func(n string) bool { return n == name })
	}), nil
}

// mutatePool starts an operation that changes a pool: change runs under
// s.mu at the first step and returns the new per-zone size (or -1 to keep
// it); the nodes are then reconciled. s.mu is held.
func (s *Server) mutatePool(method string, typ containerpb.Operation_Type, c *cluster, p *pool, change func() int32) *containerpb.Operation {
	p.proto.Status = containerpb.NodePool_RECONCILING
	var steps []step
	steps = append(steps, step{name: "UPDATING_CONFIGURATION", run: func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if size := change(); size >= 0 {
			p.size = size
		}
		p.proto.Etag = newEtag()
		return nil
	}})
	for _, z := range p.proto.Locations {
		steps = append(steps, step{name: fmt.Sprintf("NODES_RECONCILING %s/%s", p.proto.Name, z), run: func(ctx context.Context) error {
			s.mu.Lock()
			snapshot, size := proto.Clone(p.proto).(*containerpb.NodePool), p.size
			s.mu.Unlock()
			if !slices.Contains(snapshot.Locations, z) {
				size = 0
			}
			return s.nodes.reconcile(ctx, c.name, c.location, snapshot, z, int(size))
		}})
	}
	steps = append(steps, step{name: "NODES_REGISTERING " + p.proto.Name, run: func(ctx context.Context) error {
		// Zones added by the change get their nodes here.
		s.mu.Lock()
		snapshot, size := proto.Clone(p.proto).(*containerpb.NodePool), p.size
		s.mu.Unlock()
		for _, z := range snapshot.Locations {
			if err := s.nodes.reconcile(ctx, c.name, c.location, snapshot, z, int(size)); err != nil {
				return err
			}
		}
		return s.nodes.waitReady(ctx, c.name, snapshot.Name)
	}})
	return s.startOperation(method, typ, c, p.proto.Name, steps, func(err error) {
		if err != nil {
			p.proto.Status = containerpb.NodePool_ERROR
			p.proto.Conditions = []*containerpb.StatusCondition{{Message: status.Convert(err).Message(), CanonicalCode: code.Code(status.Code(err))}}
			return
		}
		p.proto.Status = containerpb.NodePool_RUNNING
		p.proto.Conditions = nil
	})
}

// prepare looks a pool up for a change and refuses it while busy. s.mu is held.
func (s *Server) prepare(method, name string) (*cluster, *pool, error) {
	c, p, err := s.lookupPool(name)
	if err != nil {
		return nil, nil, err
	}
	if err := poolBusy(c, p); err != nil {
		return nil, nil, err
	}
	if f := s.takeRejection(method, p.proto.Name); f != nil {
		return nil, nil, f
	}
	return c, p, nil
}

// SetNodePoolSize resizes a pool (nodes per zone); a multi-host TPU slice
// only to 0 or its hosts.
func (s *Server) SetNodePoolSize(_ context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	if req.GetNodeCount() < 0 {
		return nil, status.Error(codes.InvalidArgument, "Invalid value for field 'node_count': must be at least 0.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.prepare("SetNodePoolSize", req.GetName())
	if err != nil {
		return nil, err
	}
	probe := proto.Clone(p.proto).(*containerpb.NodePool)
	probe.Autoscaling = nil
	probe.InitialNodeCount = req.GetNodeCount()
	if problems, _ := shapeOf(probe, len(probe.Locations)).Check(); len(problems) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid node count: %s.", problems[0].Message)
	}
	n := req.GetNodeCount()
	return s.mutatePool("SetNodePoolSize", containerpb.Operation_SET_NODE_POOL_SIZE, c, p, func() int32 { return n }), nil
}

// SetNodePoolAutoscaling sets the autoscaler's limits and moves the size into them.
func (s *Server) SetNodePoolAutoscaling(_ context.Context, req *containerpb.SetNodePoolAutoscalingRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.prepare("SetNodePoolAutoscaling", req.GetName())
	if err != nil {
		return nil, err
	}
	a := req.GetAutoscaling()
	probe := proto.Clone(p.proto).(*containerpb.NodePool)
	probe.Autoscaling = a
	probe.InitialNodeCount = p.size
	if err := checkNodePool(probe, c.proto.Locations, c.location); err != nil {
		return nil, err
	}
	return s.mutatePool("SetNodePoolAutoscaling", containerpb.Operation_SET_NODE_POOL_MANAGEMENT, c, p, func() int32 {
		if a.GetEnabled() {
			p.proto.Autoscaling = a
			return clampSize(p.size, a, len(p.proto.Locations))
		}
		p.proto.Autoscaling = nil
		return -1
	}), nil
}

// SetNodePoolManagement sets auto-repair and auto-upgrade.
func (s *Server) SetNodePoolManagement(_ context.Context, req *containerpb.SetNodePoolManagementRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.prepare("SetNodePoolManagement", req.GetName())
	if err != nil {
		return nil, err
	}
	m := req.GetManagement()
	return s.mutatePool("SetNodePoolManagement", containerpb.Operation_SET_NODE_POOL_MANAGEMENT, c, p, func() int32 {
		p.proto.Management = m
		return -1
	}), nil
}

// UpdateNodePool changes what GKE changes in place: node version, image
// type, locations, workload metadata, upgrade settings, labels, taints,
// resource labels, machine type, disk, and accelerators' driver and
// sharing settings. Nodes are relabelled in place, or recreated when the
// machine, disk or image changes.
func (s *Server) UpdateNodePool(_ context.Context, req *containerpb.UpdateNodePoolRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.prepare("UpdateNodePool", req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetEtag() != "" && req.GetEtag() != p.proto.Etag {
		return nil, status.Error(codes.Aborted, "The node pool was changed since the etag was read.")
	}
	if err := s.checkVersion("node_version", req.GetNodeVersion()); err != nil {
		return nil, err
	}
	next := proto.Clone(p.proto).(*containerpb.NodePool)
	cfg := next.Config
	if v := req.GetImageType(); v != "" && v != "-" {
		cfg.ImageType = v
	}
	if v := req.GetMachineType(); v != "" {
		cfg.MachineType = v
	}
	if v := req.GetDiskType(); v != "" {
		cfg.DiskType = v
	}
	if v := req.GetDiskSizeGb(); v != 0 {
		cfg.DiskSizeGb = int32(v)
	}
	if v := req.GetLocations(); len(v) > 0 {
		next.Locations = v
	}
	if v := req.GetWorkloadMetadataConfig(); v != nil {
		cfg.WorkloadMetadataConfig = v
	}
	if v := req.GetUpgradeSettings(); v != nil {
		next.UpgradeSettings = v
	}
	if v := req.GetLabels(); v != nil {
		cfg.Labels = v.GetLabels()
	}
	if v := req.GetTaints(); v != nil {
		cfg.Taints = v.GetTaints()
	}
	if v := req.GetResourceLabels(); v != nil {
		cfg.ResourceLabels = v.GetLabels()
	}
	if v := req.GetQueuedProvisioning(); v != nil && v.GetEnabled() != p.proto.GetQueuedProvisioning().GetEnabled() {
		return nil, status.Error(codes.InvalidArgument, "Invalid value for field 'queued_provisioning': it is set when the node pool is created.")
	}
	if accs := req.GetAccelerators(); accs != nil {
		if len(accs) != len(cfg.Accelerators) {
			return nil, status.Error(codes.InvalidArgument, "Invalid value for field 'accelerators': accelerators are added or removed by recreating the node pool.")
		}
		for i, a := range accs {
			old := cfg.Accelerators[i]
			if a.GetAcceleratorType() != old.GetAcceleratorType() || a.GetAcceleratorCount() != old.GetAcceleratorCount() || a.GetGpuPartitionSize() != old.GetGpuPartitionSize() {
				return nil, status.Error(codes.InvalidArgument, "Invalid value for field 'accelerators': the accelerator type, count and partition size are set when the node pool is created; only the driver version and sharing change in place.")
			}
		}
		cfg.Accelerators = accs
	}
	if req.GetMachineType() != "" {
		// A machine type that comes with GPUs carries them along.
		if m, err := gkemachine.Lookup(req.GetMachineType()); err == nil && m.GPU != "" && len(req.GetAccelerators()) == 0 {
			cfg.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: m.GPU, AcceleratorCount: m.GPUCount}}
		}
	}
	probe := proto.Clone(next).(*containerpb.NodePool)
	probe.InitialNodeCount = p.size
	if err := checkNodePool(probe, c.proto.Locations, c.location); err != nil {
		return nil, err
	}
	if v := req.GetNodeVersion(); v != "" {
		next.Version = s.opts.MasterVersion
	}
	oldLocations := p.proto.Locations
	op := s.mutatePool("UpdateNodePool", containerpb.Operation_UPGRADE_NODES, c, p, func() int32 {
		next.Status, next.Etag = p.proto.Status, p.proto.Etag
		p.proto = next
		for _, z := range oldLocations {
			if !slices.Contains(next.Locations, z) {
				next.InstanceGroupUrls = slices.DeleteFunc(next.InstanceGroupUrls, func(u string) bool { return strings.Contains(u, "/zones/"+z+"/") })
			}
		}
		for _, z := range next.Locations {
			if !slices.Contains(oldLocations, z) {
				next.InstanceGroupUrls = append(next.InstanceGroupUrls, fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-grp", c.project, z, c.name, next.Name))
			}
		}
		return -1
	})
	// Zones the update removes lose their nodes: reconcile them too.
	return op, nil
}
