// Command kfstack-cluster starts and stops the local Kubernetes control
// plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// KWOK's simulated CPU, GPU and TPU nodes) that the quickstart and the
// tests use. With REAL_NODE=1 it adds a real node: kubelet on containerd,
// which runs Pods in containers from locally built images (root only).
//
//	kfstack-cluster build   build and cache the binaries (and with REAL_NODE=1 the node's images), showing progress
//	kfstack-cluster up      start the cluster in the background, print its kubeconfig path
//	kfstack-cluster down    stop it and remove its files
//	kfstack-cluster kubeconfig  print the kubeconfig path of the running cluster
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

const usage = `usage: kfstack-cluster build|up|down|kubeconfig

The cluster's files live in $KFSTACK_CLUSTER_DIR (default: the kfstack
cache directory's "cluster" folder); binaries are cached in
$KFSTACK_CACHE_DIR (default: ~/.cache/kfstack). REAL_NODE=1 adds a real
node (kubelet on containerd; needs root, runc, containernetworking-plugins
and busybox-static).`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	dir, err := stateDir()
	if err == nil {
		switch os.Args[1] {
		case "build":
			_, err = testcluster.EnsureBinaries(context.Background(), os.Stdout)
			if err == nil && realNode() {
				err = testcluster.PrepareRealNode(context.Background(), os.Stdout)
			}
		case "up":
			err = up(dir)
		case "serve":
			err = serve(dir)
		case "down":
			err = down(dir)
		case "kubeconfig":
			err = printKubeconfig(dir)
		default:
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfstack-cluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func stateDir() (string, error) {
	if dir := os.Getenv("KFSTACK_CLUSTER_DIR"); dir != "" {
		return filepath.Abs(dir)
	}
	cache, err := testcluster.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "cluster"), nil
}

// up builds what is missing with visible progress, then starts "serve" in
// its own session so the cluster outlives this command, and waits until
// the cluster is ready.
func up(dir string) error {
	if path, ok := running(dir); ok {
		fmt.Println(path)
		return nil
	}
	if realNode() {
		if err := testcluster.RealNodeSupported(); err != nil {
			return fmt.Errorf("REAL_NODE=1: %w", err)
		}
	}
	if _, err := testcluster.EnsureBinaries(context.Background(), os.Stderr); err != nil {
		return err
	}
	// The node's images too are built before the start's deadline (with
	// progress), so that the start inside it only reuses the build cache.
	if realNode() {
		if err := testcluster.PrepareRealNode(context.Background(), os.Stderr); err != nil {
			return err
		}
	}
	if err := testcluster.RemoveDir(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self, "serve")
	cmd.Env = append(os.Environ(), "KFSTACK_CLUSTER_DIR="+dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cluster supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	for {
		if path, ok := running(dir); ok {
			fmt.Fprintln(os.Stderr, "local cluster is up; stop it with: make cluster-down")
			fmt.Println(path)
			return nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile.Name())
			return fmt.Errorf("the cluster did not start (%w):\n%s", err, log)
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("the cluster was not ready after 3 minutes; see %s", logFile.Name())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serve runs the cluster in the foreground until SIGTERM or SIGINT.
func serve(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cluster, err := testcluster.Start(ctx, testcluster.Options{Dir: filepath.Join(dir, "data"), Progress: os.Stderr, RealNode: realNode()})
	if err != nil {
		return err
	}
	if cluster.RealNode != nil {
		fmt.Fprintf(os.Stderr, "real node %s runs Pods that select %s=true and tolerate the %s taint; images: %v\n",
			cluster.RealNode.Name, testcluster.RealNodeLabel, testcluster.RealNodeTaint, cluster.RealNode.Images)
	}
	defer cluster.Stop()
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(cluster.KubeconfigPath), 0o644); err != nil {
		return err
	}
	<-ctx.Done()
	_ = os.Remove(filepath.Join(dir, "ready"))
	return nil
}

// realNode reports whether REAL_NODE=1 asks for a real node.
func realNode() bool {
	return os.Getenv("REAL_NODE") == "1"
}

// running returns the kubeconfig path of a cluster that is up.
func running(dir string) (string, bool) {
	ready, err := os.ReadFile(filepath.Join(dir, "ready"))
	if err != nil {
		return "", false
	}
	pid, err := readPID(dir)
	if err != nil || syscall.Kill(pid, 0) != nil {
		return "", false
	}
	return string(ready), true
}

func readPID(dir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// stopDemo stops what make demo left running against the cluster (the
// runtime controller and UI processes listed in demo/pids).
func stopDemo(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "demo", "pids"))
	if err != nil {
		return
	}
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	_ = os.Remove(filepath.Join(dir, "demo", "pids"))
}

func down(dir string) error {
	stopDemo(dir)
	pid, err := readPID(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "no local cluster is running")
		return testcluster.RemoveDir(dir)
	}
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err == nil {
		// A real node drains its Pods first: give it time.
		deadline := time.Now().Add(120 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster supervisor %d still running after 120s", pid)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	fmt.Fprintln(os.Stderr, "local cluster stopped")
	return testcluster.RemoveDir(dir)
}

func printKubeconfig(dir string) error {
	path, ok := running(dir)
	if !ok {
		return errors.New("no local cluster is running; start one with: make cluster-up")
	}
	fmt.Println(path)
	return nil
}
