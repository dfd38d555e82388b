package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/kfstack/terraform-provider-kubeflow/internal/fakegke"
)

// TestAccGKENodePool_interrupted kills terraform and the provider while
// GKE creates a node pool; the next apply finds the pending operation and
// waits for it instead of failing on "already exists", and the plan after
// it is empty. A plan that replaces the pool names the reason.
func TestAccGKENodePool_interrupted(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	// A slow GKE: each step of an operation takes a second.
	s, err := fakegke.Start(fakegke.Options{Host: testCluster.Host, CACert: testCluster.CACert, Client: testCluster.Client,
		Token: testCluster.Token, TLS: true, StepDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := fakeClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cluster := gkeName("kill")
	id := gkeClusterID{Project: gkeProject, Location: "us-central1-a", Name: cluster}
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: id.parent(), Cluster: &containerpb.Cluster{Name: cluster, InitialNodeCount: 1}}) //nolint:staticcheck // the deprecated field GKE still takes
	if err != nil {
		t.Fatal(err)
	}
	waitFake(t, c, cluster, op)

	tf := newTerraformRun(t)
	config := func(spot bool) string {
		return gkeProviderBlock(s) + fmt.Sprintf(`
resource "kubeflow_gke_node_pool" "gpu" {
  cluster    = %q
  name       = "gpu-kill"
  node_count = 2
  node_config {
    machine_type = "g2-standard-8"
    spot         = %t
  }
}
`, id.String(), spot)
	}
	tf.write(config(false))
	apply := tf.start("apply", "-auto-approve", "-input=false", "-no-color")
	for running := false; !running; {
		select {
		case <-apply.done:
			t.Fatalf("terraform apply ended before GKE began creating the pool:\n%s", apply.output())
		case <-ctx.Done():
			t.Fatal("no operation creating the pool appeared")
		case <-time.After(100 * time.Millisecond):
		}
		pending, err := pendingOperation(ctx, c, id, containerpb.Operation_CREATE_NODE_POOL, id.pool("gpu-kill"))
		running = err == nil && pending != nil
	}
	provider, err := childProcess(apply.cmd.Process.Pid, tf.provider)
	if err != nil {
		t.Fatalf("finding the provider process: %v\n%s", err, apply.output())
	}
	_ = syscall.Kill(provider, syscall.SIGKILL)
	_ = syscall.Kill(-apply.cmd.Process.Pid, syscall.SIGKILL)
	<-apply.done
	if pending, err := pendingOperation(ctx, c, id, containerpb.Operation_CREATE_NODE_POOL, id.pool("gpu-kill")); err != nil || pending == nil {
		t.Fatalf("the create operation is no longer pending after the kill (%v): the test is too slow to show anything", err)
	}

	out, err := tf.run("apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("the apply after the interruption failed: %v\n%s", err, out)
	}
	if calls := s.Calls()["CreateNodePool"]; calls != 2 {
		t.Errorf("CreateNodePool was called %d times, want 2 (the second refused as existing)", calls)
	}
	nodes, err := poolNodes(cluster, "gpu-kill")
	if err != nil || len(nodes) != 2 {
		t.Errorf("the pool has %d nodes (%v), want 2", len(nodes), err)
	}
	if out, err := tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Errorf("the plan after the second apply is not empty (%v):\n%s", err, out)
	}

	// A change GKE cannot make in place: the plan names the attribute and why.
	tf.write(config(true))
	out, _ = tf.run("plan", "-input=false", "-no-color")
	for _, want := range []string{"must be replaced", "# forces replacement", "Node pool gpu-kill will be replaced", "node_config.spot changes from false to true"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not say %q:\n%s", want, out)
		}
	}
	if out, err := tf.run("destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if nodes, _ := poolNodes(cluster, "gpu-kill"); len(nodes) != 0 {
		t.Errorf("%d nodes left after destroy", len(nodes))
	}
	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: id.String()})
	if err == nil {
		waitFake(t, c, cluster, op)
	}
}
