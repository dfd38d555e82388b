package fakegke

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var testCluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { testCluster = c })
}

const parent = "projects/fake-project/locations/us-central1-a"

func start(t *testing.T, step time.Duration) (*Server, *container.ClusterManagerClient) {
	t.Helper()
	s, err := Start(Options{Host: testCluster.Host, CACert: testCluster.CACert, Client: testCluster.Client, Token: "secret", TLS: true, StepDelay: step})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(s.CertPool(), "")),
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "secret"})}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClusterManagerClient(context.Background(), option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

func wait(t *testing.T, c *container.ClusterManagerClient, op *containerpb.Operation) *containerpb.Operation {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for op.GetStatus() != containerpb.Operation_DONE {
		if time.Now().After(deadline) {
			t.Fatalf("operation %s did not finish", op.GetName())
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		if op, err = c.GetOperation(context.Background(), &containerpb.GetOperationRequest{Name: parent + "/operations/" + op.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
	return op
}

// nodesOf lists the nodes of a pool of the cluster "life".
func nodesOf(t *testing.T, pool string) []corev1.Node {
	t.Helper()
	list, err := testCluster.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=life,%s=%s", ClusterLabel, NodePoolLabel, pool)})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func createCluster(t *testing.T, c *container.ClusterManagerClient, name string) {
	t.Helper()
	op, err := c.CreateCluster(context.Background(), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: name, InitialNodeCount: 1}}) //nolint:staticcheck // the deprecated field GKE still takes
	if err != nil {
		t.Fatal(err)
	}
	if op = wait(t, c, op); op.GetError() != nil {
		t.Fatalf("creating the cluster: %v", op.GetError())
	}
}

// TestNodePoolLifecycle: a pool's nodes follow it: created with GKE's
// labels, taints and capacity, resized, relabelled in place, recreated for
// a new machine type, removed with the pool and the cluster.
func TestNodePoolLifecycle(t *testing.T) {
	_, c := start(t, 10*time.Millisecond)
	ctx := context.Background()
	createCluster(t, c, "life")
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/life"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() != containerpb.Cluster_RUNNING || "https://"+got.GetEndpoint() != testCluster.Host {
		t.Fatalf("cluster %s at %s, want RUNNING at %s", got.GetStatus(), got.GetEndpoint(), testCluster.Host)
	}
	if n := len(nodesOf(t, "default-pool")); n != 1 {
		t.Fatalf("default-pool has %d nodes, want 1", n)
	}

	pool := parent + "/clusters/life/nodePools/gpu"
	op, err := c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent + "/clusters/life", NodePool: &containerpb.NodePool{
		Name: "gpu", InitialNodeCount: 2,
		Config: &containerpb.NodeConfig{MachineType: "g2-standard-24", Labels: map[string]string{"team": "a"},
			Taints: []*containerpb.NodeTaint{{Key: "team", Value: "a", Effect: containerpb.NodeTaint_NO_SCHEDULE}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A second operation on the busy pool is refused, as GKE refuses it.
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 1})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "incompatible operation "+op.GetName()) {
		t.Errorf("a resize during the create: %v, want FAILED_PRECONDITION naming %s", err, op.GetName())
	}
	op = wait(t, c, op)
	if len(op.GetProgress().GetStages()) < 3 {
		t.Errorf("the operation reports %d stages", len(op.GetProgress().GetStages()))
	}
	nodes := nodesOf(t, "gpu")
	if len(nodes) != 2 {
		t.Fatalf("pool gpu has %d nodes, want 2", len(nodes))
	}
	n := nodes[0]
	if n.Labels[AcceleratorLabel] != "nvidia-l4" || n.Labels["team"] != "a" || n.Labels["node.kubernetes.io/instance-type"] != "g2-standard-24" {
		t.Errorf("labels %v", n.Labels)
	}
	if gpu := n.Status.Capacity[GPUResource]; gpu.Value() != 2 {
		t.Errorf("GPU capacity %s", gpu.String())
	}
	if cpu := n.Status.Capacity[corev1.ResourceCPU]; cpu.Value() != 24 {
		t.Errorf("CPU capacity %s", cpu.String())
	}
	if !testcluster.NodeSchedulable(&n) {
		t.Errorf("node %s is not Ready", n.Name)
	}

	// Relabel and retaint in place: the same nodes.
	op, err = c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool,
		Labels: &containerpb.NodeLabels{Labels: map[string]string{"tier": "prod"}},
		Taints: &containerpb.NodeTaints{Taints: []*containerpb.NodeTaint{{Key: "tier", Value: "prod", Effect: containerpb.NodeTaint_NO_EXECUTE}}}})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, op)
	for _, after := range nodesOf(t, "gpu") {
		if after.UID != nodes[0].UID && after.UID != nodes[1].UID {
			t.Errorf("node %s was recreated for a label change", after.Name)
		}
		if _, stale := after.Labels["team"]; stale || after.Labels["tier"] != "prod" {
			t.Errorf("labels after the update: %v", after.Labels)
		}
		want := map[string]bool{"nvidia.com/gpu": true, "tier": true}
		for _, taint := range after.Spec.Taints {
			delete(want, taint.Key)
			if taint.Key == "team" {
				t.Errorf("the old taint is left: %v", after.Spec.Taints)
			}
		}
		if len(want) > 0 {
			t.Errorf("taints after the update: %v", after.Spec.Taints)
		}
	}

	// Resize, and a machine change that recreates the nodes.
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, op)
	if n := len(nodesOf(t, "gpu")); n != 1 {
		t.Errorf("after the resize: %d nodes, want 1", n)
	}
	op, err = c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, MachineType: "g2-standard-48"})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, op)
	after := nodesOf(t, "gpu")
	if len(after) != 1 || after[0].Labels["node.kubernetes.io/instance-type"] != "g2-standard-48" {
		t.Fatalf("after the machine change: %v", after)
	}
	if gpu := after[0].Status.Capacity[GPUResource]; gpu.Value() != 4 {
		t.Errorf("GPU capacity after the machine change %s, want 4", gpu.String())
	}

	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: parent + "/clusters/life"})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c, op)
	if n := len(nodesOf(t, "gpu")); n != 0 {
		t.Errorf("%d nodes left after the cluster was deleted", n)
	}
	if _, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/life"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetCluster after delete: %v", err)
	}
}

// TestValidation: what GKE refuses, the fake refuses, with its codes.
func TestValidation(t *testing.T) {
	_, c := start(t, time.Millisecond)
	ctx := context.Background()
	createCluster(t, c, "valid")
	create := func(p *containerpb.NodePool) error {
		_, err := c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent + "/clusters/valid", NodePool: p})
		return err
	}
	cases := map[string]struct {
		err  error
		code codes.Code
		want string
	}{
		"bad name":      {create(&containerpb.NodePool{Name: "Bad_Name", InitialNodeCount: 1}), codes.InvalidArgument, "Must be a match of regex"},
		"a100 on g2":    {create(&containerpb.NodePool{Name: "a", InitialNodeCount: 1, Config: &containerpb.NodeConfig{MachineType: "g2-standard-8", Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}}}}), codes.InvalidArgument, "a2-highgpu-1g"},
		"tpu hosts":     {create(&containerpb.NodePool{Name: "b", InitialNodeCount: 3, Config: &containerpb.NodeConfig{MachineType: "ct5lp-hightpu-4t"}, PlacementPolicy: &containerpb.NodePool_PlacementPolicy{Type: containerpb.NodePool_PlacementPolicy_COMPACT, TpuTopology: "4x4"}}), codes.InvalidArgument, "node_count must be 4"},
		"topology type": {create(&containerpb.NodePool{Name: "c", InitialNodeCount: 1, Config: &containerpb.NodeConfig{MachineType: "ct5lp-hightpu-4t"}, PlacementPolicy: &containerpb.NodePool_PlacementPolicy{TpuTopology: "2x2"}}), codes.InvalidArgument, "COMPACT"},
		"unknown cluster": {func() error {
			_, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/nope"})
			return err
		}(), codes.NotFound, "Not found"},
		"fingerprint": {func() error {
			_, err := c.SetLabels(ctx, &containerpb.SetLabelsRequest{Name: parent + "/clusters/valid", ResourceLabels: map[string]string{"a": "b"}, LabelFingerprint: "stale"})
			return err
		}(), codes.FailedPrecondition, "fingerprint"},
		"duplicate cluster": {func() error {
			_, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "valid", InitialNodeCount: 1}}) //nolint:staticcheck // the deprecated field GKE still takes
			return err
		}(), codes.AlreadyExists, "Already exists"},
	}
	for name, tc := range cases {
		if status.Code(tc.err) != tc.code || !strings.Contains(status.Convert(tc.err).Message(), tc.want) {
			t.Errorf("%s: %v, want %s containing %q", name, tc.err, tc.code, tc.want)
		}
	}
}

// TestFailuresAndCancel: an injected failure ends the operation with its
// error and leaves the pool in ERROR; a cancelled operation ends
// CANCELLED; a wrong token is refused.
func TestFailuresAndCancel(t *testing.T) {
	s, c := start(t, 20*time.Millisecond)
	ctx := context.Background()
	createCluster(t, c, "fail")
	s.InjectFailure(Failure{Method: "CreateNodePool", Target: "broken", Step: 1, Message: "ZONE_RESOURCE_POOL_EXHAUSTED"})
	op, err := c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent + "/clusters/fail", NodePool: &containerpb.NodePool{Name: "broken", InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	op = wait(t, c, op)
	if op.GetError().GetCode() != int32(codes.ResourceExhausted) || !strings.Contains(op.GetError().GetMessage(), "ZONE_RESOURCE_POOL_EXHAUSTED") {
		t.Errorf("operation error %v", op.GetError())
	}
	p, err := c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: parent + "/clusters/fail/nodePools/broken"})
	if err != nil || p.GetStatus() != containerpb.NodePool_ERROR {
		t.Errorf("pool after the failure: %v (%v)", p.GetStatus(), err)
	}

	s.SetStepDelay(500 * time.Millisecond)
	op, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: parent + "/clusters/fail", NodePool: &containerpb.NodePool{Name: "slow", InitialNodeCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CancelOperation(ctx, &containerpb.CancelOperationRequest{Name: parent + "/operations/" + op.GetName()}); err != nil {
		t.Fatal(err)
	}
	if op = wait(t, c, op); op.GetError().GetCode() != int32(codes.Canceled) {
		t.Errorf("cancelled operation ended with %v", op.GetError())
	}
	list, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent})
	if err != nil || len(list.GetOperations()) < 3 {
		t.Errorf("ListOperations: %d (%v)", len(list.GetOperations()), err)
	}

	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(s.CertPool(), "")),
		grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong"})}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = containerpb.NewClusterManagerClient(conn).GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/fail"})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("a wrong token: %v", err)
	}
	plain, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err == nil {
		defer plain.Close()
		if _, err := containerpb.NewClusterManagerClient(plain).GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/fail"}); err == nil {
			t.Error("a plaintext call to the TLS server succeeded")
		}
	}
}
