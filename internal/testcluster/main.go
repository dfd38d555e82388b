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
// test failed, and stops the cluster, on an interrupt too.
func RunMain(m *testing.M, setup func(*Cluster)) {
	os.Exit(runMain(m, setup))
}

func runMain(m *testing.M, setup func(*Cluster)) int {
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

	cluster, err := Start(ctx, Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster: %v\n", err)
		return 1
	}
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
