package testcluster

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// RunMain is a TestMain body: it starts one cluster for the test package,
// hands it to setup, runs the tests, prints the components' logs if any
// test failed, and stops the cluster, on an interrupt too. With
// REAL_NODE=1 in the environment the cluster gets a real node as well,
// where the machine can run one (see RunMainWithRealNode).
func RunMain(m *testing.M, setup func(*Cluster)) {
	os.Exit(runMain(m, Options{RealNode: os.Getenv("REAL_NODE") == "1"}, setup))
}

// RunMainWithOptions is RunMain for a cluster started with opts (a proxy
// in front of etcd, say). REAL_NODE=1 adds a real node here too.
func RunMainWithOptions(m *testing.M, opts Options, setup func(*Cluster)) {
	opts.RealNode = opts.RealNode || os.Getenv("REAL_NODE") == "1"
	os.Exit(runMain(m, opts, setup))
}

// RunMainWithRealNode is RunMain for a package whose tests run Pods in
// real containers: the cluster gets a real node wherever the machine can
// run one. Where it cannot (not root, no runc, ...), the cluster starts
// without it, and the tests that need it skip with the reason (see
// Cluster.SkipUnlessRealNode).
func RunMainWithRealNode(m *testing.M, setup func(*Cluster)) {
	os.Exit(runMain(m, Options{RealNode: true}, setup))
}

func runMain(m *testing.M, opts Options, setup func(*Cluster)) int {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		running *Cluster
	)
	// An interrupt, while the cluster starts or while tests run, still
	// stops every component.
	go func() {
		if _, ok := <-signals; ok {
			cancel()
			mu.Lock()
			if running != nil {
				running.Stop()
			}
			os.Exit(130)
		}
	}()

	noRealNode := "the cluster was started without a real node: use testcluster.RunMainWithRealNode, or set REAL_NODE=1"
	if opts.RealNode {
		if err := RealNodeSupported(); err != nil {
			noRealNode = err.Error()
			fmt.Fprintf(os.Stderr, "starting the local cluster without a real node: %v\n", err)
			opts.RealNode = false
		}
	}
	cluster, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster: %v\n", err)
		return 1
	}
	cluster.noRealNode = noRealNode
	mu.Lock()
	running = cluster
	mu.Unlock()
	defer cluster.Stop()

	setup(cluster)
	code := m.Run()
	if code != 0 {
		cluster.WriteLogs(os.Stderr, 40)
	}
	return code
}

// SkipUnlessRealNode skips the test, saying why, if the cluster has no
// real node, and returns the real node otherwise.
func (c *Cluster) SkipUnlessRealNode(t testing.TB) *RealNode {
	t.Helper()
	if c.RealNode == nil {
		reason := c.noRealNode
		if reason == "" {
			reason = "the cluster was started without Options.RealNode"
		}
		t.Skipf("no real node: %s", reason)
	}
	return c.RealNode
}
