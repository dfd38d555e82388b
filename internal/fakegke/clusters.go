package fakegke

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// cluster is a cluster and its node pools.
type cluster struct {
	key, name, project, location string
	proto                        *containerpb.Cluster // NodePools are filled in on reads
	pools                        map[string]*pool
	poolOrder                    []string
	busy                         string // the cluster operation running, if any
}

func (c *cluster) parent() string { return "projects/" + c.project + "/locations/" + c.location }

// zones are the zones of a location: a zone itself, or three zones of a
// region, as GKE picks by default.
func zones(location string) []string {
	if zonePattern.MatchString(location) {
		return []string{location}
	}
	return []string{location + "-a", location + "-b", location + "-c"}
}

func region(location string) string {
	if zonePattern.MatchString(location) {
		return location[:strings.LastIndex(location, "-")]
	}
	return location
}

var (
	namePattern     = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$`)
	locationPattern = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+(?:-[a-z])?$`)
	zonePattern     = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	projectPattern  = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	labelKey        = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValue      = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

func checkName(field, name string) error {
	if !namePattern.MatchString(name) {
		return status.Errorf(codes.InvalidArgument, "Invalid value for field '%s': %q. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (lower-case letters, digits and hyphens, starting with a letter, at most 40 characters).", field, name)
	}
	return nil
}

func parseParent(parent string) (project, location string, err error) {
	parts := strings.Split(parent, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" {
		return "", "", status.Errorf(codes.InvalidArgument, "Invalid parent %q: expected projects/*/locations/*.", parent)
	}
	if !projectPattern.MatchString(parts[1]) {
		return "", "", status.Errorf(codes.InvalidArgument, "Invalid project ID %q.", parts[1])
	}
	if parts[3] != "-" && !locationPattern.MatchString(parts[3]) {
		return "", "", status.Errorf(codes.InvalidArgument, "Location %q is not a region or zone, such as us-central1 or us-central1-a.", parts[3])
	}
	return parts[1], parts[3], nil
}

// splitCluster splits projects/P/locations/L/clusters/C[/nodePools/N].
func splitCluster(name string) (key, pool string, err error) {
	key, pool, _ = strings.Cut(name, "/nodePools/")
	parent, _, ok := strings.Cut(key, "/clusters/")
	if !ok {
		return "", "", status.Errorf(codes.InvalidArgument, "Invalid name %q: expected projects/*/locations/*/clusters/*.", name)
	}
	if _, _, err := parseParent(parent); err != nil {
		return "", "", err
	}
	return key, pool, nil
}

// lookup returns a cluster by name. s.mu is held.
func (s *Server) lookup(name string) (*cluster, error) {
	key, _, err := splitCluster(name)
	if err != nil {
		return nil, err
	}
	c, ok := s.clusters[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", key)
	}
	return c, nil
}

// view is what reads return: the cluster with its node pools.
func (s *Server) view(c *cluster) *containerpb.Cluster {
	out := proto.Clone(c.proto).(*containerpb.Cluster)
	out.NodePools = nil
	for _, name := range c.poolOrder {
		out.NodePools = append(out.NodePools, s.poolView(c, c.pools[name]))
	}
	var total int32
	for _, p := range c.pools {
		total += p.size * int32(len(p.proto.Locations))
	}
	out.CurrentNodeCount = total //nolint:staticcheck // deprecated in the API, still set by GKE
	return out
}

// ListClusters lists the clusters of a project in a location ("-" for all).
func (s *Server) ListClusters(_ context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	parent := req.GetParent()
	project, location, err := parseParent(parent)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &containerpb.ListClustersResponse{}
	for _, key := range slices.Sorted(maps.Keys(s.clusters)) {
		c := s.clusters[key]
		if c.project == project && (location == "-" || c.location == location) {
			resp.Clusters = append(resp.Clusters, s.view(c))
		}
	}
	return resp, nil
}

// GetCluster returns a cluster with its node pools.
func (s *Server) GetCluster(_ context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	return s.view(c), nil
}

// checkVersion accepts what GKE accepts as a version: empty or "latest" or
// "-" (the default), or a prefix of the version it serves.
func (s *Server) checkVersion(field, v string) error {
	if v == "" || v == "latest" || v == "-" || strings.HasPrefix(s.opts.MasterVersion, v) {
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "%s: version %q is not supported; valid versions are latest, %s, %s.", field, v, s.opts.MasterVersion, minor(s.opts.MasterVersion))
}

func minor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func checkLabels(field string, labels map[string]string) error {
	for k, v := range labels {
		if !labelKey.MatchString(k) || !labelValue.MatchString(v) {
			return status.Errorf(codes.InvalidArgument, "Invalid value for field '%s': label %q=%q. Keys start with a lower-case letter; keys and values have at most 63 lower-case letters, digits, '_' and '-'.", field, k, v)
		}
	}
	return nil
}

func fingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "%s=%s\n", k, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CreateCluster checks the cluster as GKE does and starts creating it: the
// control plane (the local one), then its node pools' nodes.
func (s *Server) CreateCluster(_ context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	parent := req.GetParent()
	project, location, err := parseParent(parent)
	if err != nil {
		return nil, err
	}
	if location == "-" {
		return nil, status.Error(codes.InvalidArgument, "A cluster is created in one location.")
	}
	in := req.GetCluster()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Cluster is required.")
	}
	if err := checkName("cluster.name", in.GetName()); err != nil {
		return nil, err
	}
	initial := in.GetInitialNodeCount() //nolint:staticcheck // deprecated for node_pools, still accepted by GKE
	if initial > 0 && len(in.GetNodePools()) > 0 {
		return nil, status.Error(codes.InvalidArgument, "Cluster.initial_node_count and Cluster.node_pools are mutually exclusive.")
	}
	if initial <= 0 && len(in.GetNodePools()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "Cluster.initial_node_count must be greater than zero.")
	}
	if err := s.checkVersion("cluster.initial_cluster_version", in.GetInitialClusterVersion()); err != nil {
		return nil, err
	}
	if wi := in.GetWorkloadIdentityConfig(); wi != nil && wi.GetWorkloadPool() != "" && wi.GetWorkloadPool() != project+".svc.id.goog" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'cluster.workload_identity_config.workload_pool': %q. The workload pool of project %s is %s.svc.id.goog.", wi.GetWorkloadPool(), project, project)
	}
	if pc := in.GetPrivateClusterConfig(); pc != nil && pc.GetEnablePrivateNodes() && //nolint:staticcheck // google's private_cluster_config
		pc.GetMasterIpv4CidrBlock() != "" && !strings.HasSuffix(pc.GetMasterIpv4CidrBlock(), "/28") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'cluster.private_cluster_config.master_ipv4_cidr_block': %q. The control plane's range must be a /28.", pc.GetMasterIpv4CidrBlock())
	}
	if err := checkLabels("cluster.resource_labels", in.GetResourceLabels()); err != nil {
		return nil, err
	}
	if in.GetLocations() != nil {
		for _, z := range in.GetLocations() {
			if !zonePattern.MatchString(z) || region(z) != region(location) {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'cluster.locations': %q is not a zone of %s.", z, region(location))
			}
		}
	}
	pools := in.GetNodePools()
	if len(pools) == 0 {
		pools = []*containerpb.NodePool{{Name: "default-pool", InitialNodeCount: initial, Config: in.GetNodeConfig()}} //nolint:staticcheck // as GKE does with the deprecated fields
	}
	clusterZones := in.GetLocations()
	if len(clusterZones) == 0 {
		clusterZones = zones(location)
	}
	for _, p := range pools {
		if err := checkNodePool(p, clusterZones, location); err != nil {
			return nil, err
		}
	}

	key := parent + "/clusters/" + in.GetName()
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.takeRejection("CreateCluster", in.GetName()); f != nil {
		return nil, f
	}
	if _, exists := s.clusters[key]; exists {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s.", key)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	cp := proto.Clone(in).(*containerpb.Cluster)
	cp.NodePools = nil
	cp.InitialNodeCount = 0 //nolint:staticcheck // the default pool holds it
	cp.NodeConfig = nil     //nolint:staticcheck // the default pool holds it
	cp.Id = hex.EncodeToString(id)
	cp.SelfLink = apiPrefix + key
	cp.Location = location
	cp.Zone = location //nolint:staticcheck // deprecated in the API, still set by GKE
	cp.Locations = clusterZones
	cp.Status = containerpb.Cluster_PROVISIONING
	cp.CreateTime = time.Now().UTC().Format(time.RFC3339)
	cp.CurrentMasterVersion = s.opts.MasterVersion
	cp.CurrentNodeVersion = s.opts.MasterVersion //nolint:staticcheck // deprecated in the API, still set by GKE
	if cp.InitialClusterVersion == "" {
		cp.InitialClusterVersion = s.opts.MasterVersion
	}
	if cp.Network == "" {
		cp.Network = "default"
	}
	if cp.Subnetwork == "" {
		cp.Subnetwork = "default"
	}
	if cp.ReleaseChannel == nil {
		cp.ReleaseChannel = &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR}
	}
	cp.LabelFingerprint = fingerprint(cp.ResourceLabels)
	cp.Etag = newEtag()
	c := &cluster{key: key, name: in.GetName(), project: project, location: location, proto: cp, pools: map[string]*pool{}}
	s.clusters[key] = c
	var created []*pool
	for _, p := range pools {
		np := s.newPool(c, p)
		created = append(created, np)
	}

	host, ca := s.opts.Host, s.opts.CACert
	steps := []step{
		{name: "CLUSTER_CONFIGURING", run: func(context.Context) error { return nil }},
		{name: "CLUSTER_DEPLOYING", run: func(context.Context) error {
			u, err := url.Parse(host)
			if err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			cp.Endpoint = u.Host
			cp.MasterAuth = &containerpb.MasterAuth{ClusterCaCertificate: base64.StdEncoding.EncodeToString(ca)}
			return nil
		}},
	}
	for _, np := range created {
		steps = append(steps, s.resizeSteps(c, np, np.size)...)
	}
	steps = append(steps, step{name: "CLUSTER_HEALTHCHECKING", run: func(context.Context) error { return nil }})
	return s.startOperation("CreateCluster", containerpb.Operation_CREATE_CLUSTER, c, "", steps, func(err error) {
		cp.Etag = newEtag()
		if err != nil {
			cp.Status = containerpb.Cluster_ERROR
			cp.Conditions = []*containerpb.StatusCondition{{Message: status.Convert(err).Message(), CanonicalCode: code.Code(status.Code(err))}}
			for _, np := range created {
				np.proto.Status = containerpb.NodePool_ERROR
			}
			return
		}
		cp.Status = containerpb.Cluster_RUNNING
		for _, np := range created {
			np.proto.Status = containerpb.NodePool_RUNNING
		}
	}), nil
}

// takeRejection returns the error of a failure armed to refuse the call.
// s.mu is held.
func (s *Server) takeRejection(method, target string) error {
	for i, f := range s.failures {
		if f.Reject && f.Method == method && (f.Target == "" || f.Target == target) {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return status.Error(f.Code, f.Message)
		}
	}
	return nil
}

func newEtag() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// busyError refuses an operation on a cluster while another runs on it or
// on one of its pools. s.mu is held.
func (c *cluster) busyError() error {
	if c.busy != "" {
		return incompatible(c.busy)
	}
	for _, name := range c.poolOrder {
		if b := c.pools[name].busy; b != "" {
			return incompatible(b)
		}
	}
	return nil
}

// UpdateCluster applies the desired fields the provider changes in place
// (version, release channel, workload identity, add-ons, locations, private endpoint).
func (s *Server) UpdateCluster(_ context.Context, req *containerpb.UpdateClusterRequest) (*containerpb.Operation, error) {
	u := req.GetUpdate()
	if u == nil {
		return nil, status.Error(codes.InvalidArgument, "Update is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := c.busyError(); err != nil {
		return nil, err
	}
	if u.GetEtag() != "" && u.GetEtag() != c.proto.Etag {
		return nil, status.Error(codes.Aborted, "The cluster was changed since the etag was read.")
	}
	if err := s.checkVersion("update.desired_master_version", u.GetDesiredMasterVersion()); err != nil {
		return nil, err
	}
	if wi := u.GetDesiredWorkloadIdentityConfig(); wi != nil && wi.GetWorkloadPool() != "" && wi.GetWorkloadPool() != c.project+".svc.id.goog" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'update.desired_workload_identity_config.workload_pool': %q. The workload pool of project %s is %s.svc.id.goog.", wi.GetWorkloadPool(), c.project, c.project)
	}
	if len(u.GetDesiredLocations()) > 0 {
		for _, z := range u.GetDesiredLocations() {
			if !zonePattern.MatchString(z) || region(z) != region(c.location) {
				return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'update.desired_locations': %q is not a zone of %s.", z, region(c.location))
			}
		}
	}
	if f := s.takeRejection("UpdateCluster", c.name); f != nil {
		return nil, f
	}
	cp := c.proto
	apply := func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if v := u.GetDesiredMasterVersion(); v != "" && v != "-" && v != "latest" {
			cp.CurrentMasterVersion = s.opts.MasterVersion
		}
		if rc := u.GetDesiredReleaseChannel(); rc != nil {
			cp.ReleaseChannel = rc
		}
		if wi := u.GetDesiredWorkloadIdentityConfig(); wi != nil {
			if wi.GetWorkloadPool() == "" {
				cp.WorkloadIdentityConfig = nil
			} else {
				cp.WorkloadIdentityConfig = wi
			}
		}
		if a := u.GetDesiredAddonsConfig(); a != nil {
			cp.AddonsConfig = a
		}
		if l := u.GetDesiredLocations(); len(l) > 0 {
			cp.Locations = l
		}
		if v := u.DesiredEnablePrivateEndpoint; v != nil { //nolint:staticcheck // google's private_cluster_config.enable_private_endpoint
			if cp.PrivateClusterConfig == nil {
				cp.PrivateClusterConfig = &containerpb.PrivateClusterConfig{}
			}
			cp.PrivateClusterConfig.EnablePrivateEndpoint = *v //nolint:staticcheck // as above
		}
		cp.Etag = newEtag()
		return nil
	}
	typ := containerpb.Operation_UPDATE_CLUSTER
	if u.GetDesiredMasterVersion() != "" {
		typ = containerpb.Operation_UPGRADE_MASTER
	}
	steps := []step{{name: "CLUSTER_CONFIGURING", run: func(context.Context) error { return nil }}, {name: "CLUSTER_UPDATING", run: apply}}
	cp.Status = containerpb.Cluster_RECONCILING
	return s.startOperation("UpdateCluster", typ, c, "", steps, func(error) { cp.Status = containerpb.Cluster_RUNNING }), nil
}

// SetLabels sets the resource labels, refusing a stale fingerprint as GKE does.
func (s *Server) SetLabels(_ context.Context, req *containerpb.SetLabelsRequest) (*containerpb.Operation, error) {
	if err := checkLabels("resource_labels", req.GetResourceLabels()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := c.busyError(); err != nil {
		return nil, err
	}
	if req.GetLabelFingerprint() != c.proto.LabelFingerprint {
		return nil, status.Errorf(codes.FailedPrecondition, "Labels could not be set due to fingerprint mismatch: expected %q, got %q.", c.proto.LabelFingerprint, req.GetLabelFingerprint())
	}
	labels := req.GetResourceLabels()
	cp := c.proto
	steps := []step{{name: "SETTING_LABELS", run: func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		cp.ResourceLabels = labels
		cp.LabelFingerprint = fingerprint(labels)
		cp.Etag = newEtag()
		return nil
	}}}
	return s.startOperation("SetLabels", containerpb.Operation_SET_LABELS, c, "", steps, func(error) {}), nil //nolint:staticcheck // the type GKE still reports for SetLabels
}

// SetAddonsConfig is UpdateCluster of the add-ons.
func (s *Server) SetAddonsConfig(ctx context.Context, req *containerpb.SetAddonsConfigRequest) (*containerpb.Operation, error) {
	return s.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: req.GetName(), Update: &containerpb.ClusterUpdate{DesiredAddonsConfig: req.GetAddonsConfig()}})
}

// DeleteCluster drains and deletes every node of the cluster, then the cluster.
func (s *Server) DeleteCluster(_ context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := c.busyError(); err != nil {
		return nil, err
	}
	if f := s.takeRejection("DeleteCluster", c.name); f != nil {
		return nil, f
	}
	c.proto.Status = containerpb.Cluster_STOPPING
	steps := []step{{name: "CLUSTER_DRAINING", run: func(ctx context.Context) error {
		return s.nodes.deleteCluster(ctx, c.name)
	}}, {name: "CLUSTER_DELETING", run: func(context.Context) error { return nil }}}
	return s.startOperation("DeleteCluster", containerpb.Operation_DELETE_CLUSTER, c, "", steps, func(err error) {
		if err != nil {
			c.proto.Status = containerpb.Cluster_ERROR
			c.proto.Conditions = []*containerpb.StatusCondition{{Message: status.Convert(err).Message(), CanonicalCode: code.Code(status.Code(err))}}
			return
		}
		delete(s.clusters, c.key)
	}), nil
}

// GetServerConfig lists the one version the fake serves.
func (s *Server) GetServerConfig(_ context.Context, req *containerpb.GetServerConfigRequest) (*containerpb.ServerConfig, error) {
	v := s.opts.MasterVersion
	channels := []*containerpb.ServerConfig_ReleaseChannelConfig{}
	for _, ch := range []containerpb.ReleaseChannel_Channel{containerpb.ReleaseChannel_RAPID, containerpb.ReleaseChannel_REGULAR, containerpb.ReleaseChannel_STABLE, containerpb.ReleaseChannel_EXTENDED} {
		channels = append(channels, &containerpb.ServerConfig_ReleaseChannelConfig{Channel: ch, DefaultVersion: v, ValidVersions: []string{v}})
	}
	return &containerpb.ServerConfig{
		DefaultClusterVersion: v, ValidMasterVersions: []string{v}, ValidNodeVersions: []string{v},
		DefaultImageType: "COS_CONTAINERD", ValidImageTypes: imageTypes, Channels: channels,
	}, nil
}
