package examples_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/fakegke"
)

// gkeExample applies examples/gke (modules/gke-platform, modules/platform,
// modules/profiles) with one terraform apply against a fake GKE API backed
// by the local cluster: the cluster it creates is the local control
// plane, its pools KWOK nodes. The platform's charts and release files are
// the real upstream ones, served on loopback.
type gkeExample struct {
	tf   *terraformDir
	fake *fakegke.Server
	vars []string
}

func startGKEExample(t *testing.T, gpuPools, tpuSlices string) *gkeExample {
	t.Helper()
	charts := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "base"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "istio-discovery"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.24.0")},
	)
	files := httptest.NewServer(http.FileServer(http.Dir(bootstraptest.Upstream(t, "knative"))))
	t.Cleanup(files.Close)
	fake, err := fakegke.Start(fakegke.Options{Host: cluster.Host, CACert: cluster.CACert, Client: cluster.Client,
		Token: cluster.Token, TLS: true, StepDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	tf := terraformIn(t, "examples/gke", "modules/gke-platform", "modules/platform", "modules/profiles")
	vars := []string{
		"-var=project=kfstack-demo",
		"-var=location=us-central1-a",
		"-var=access_token=" + cluster.Token,
		"-var=container_endpoint=" + fake.Addr(),
		"-var=container_endpoint_ca_certificate=" + string(fake.CACert()),
		"-var=deletion_protection=false",
		// Simulated nodes run no webhook server and no injected pods.
		"-var=wait_for_webhooks=false",
		"-var=istio_gateway=false",
		"-var=cluster_issuer=",
		// The runtime's controller runs in this test (startController).
		"-var=runtime={ replicas = 0 }",
		fmt.Sprintf(`-var=mirror={ chart_repository = %q, knative = { serving_url = "%s/serving-1.21.1/2-serving-core.yaml", net_istio_url = "%s/net-istio-1.21/net-istio.yaml" } }`, charts, files.URL, files.URL),
		"-var=gpu_pools=" + gpuPools,
		"-var=tpu_slices=" + tpuSlices,
	}
	tf.run("get")
	return &gkeExample{tf: tf, fake: fake, vars: vars}
}

func (g *gkeExample) terraform(args ...string) string {
	return g.tf.run(append(args, g.vars...)...)
}

// cordonDefaultAccelerators keeps the local cluster's own GPU and TPU
// nodes out of the way, so that tasks can land only on the pools'.
func cordonDefaultAccelerators(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	nodes, err := cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		_, fromFake := n.Labels[fakegke.ClusterLabel]
		accelerated := strings.HasPrefix(n.Name, "kwok-gpu") || strings.HasPrefix(n.Name, "kwok-tpu")
		if fromFake || !accelerated {
			continue
		}
		name := n.Name
		patch := func(unschedulable bool) {
			body := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, unschedulable)
			if _, err := cluster.Client.CoreV1().Nodes().Patch(ctx, name, "application/merge-patch+json", []byte(body), metav1.PatchOptions{}); err != nil {
				t.Errorf("patching node %s: %v", name, err)
			}
		}
		patch(true)
		t.Cleanup(func() { patch(false) })
	}
}

var (
	pipelinesGVR = schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelines"}
	runsGVR      = schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelineruns"}
)

// runAccelerated starts a one-task pipeline that asks for accelerators and
// returns the node its pod is scheduled on.
func runAccelerated(t *testing.T, namespace, name, resources string) *corev1.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	dag := fmt.Sprintf("name: %s\ntasks:\n- name: train\n  image: python:3.12\n  command: [python, -c, \"print('training')\"]\n  resources: %s\n", name, resources)
	pipeline := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "Pipeline",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"dag": dag},
	}}
	if _, err := dyn.Resource(pipelinesGVR).Namespace(namespace).Create(ctx, pipeline, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pipeline %s: %v", name, err)
	}
	run := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "PipelineRun",
		"metadata": map[string]any{"name": name + "-1", "namespace": namespace},
		"spec":     map[string]any{"pipeline": name, "pipelineVersion": int64(0), "executor": "pod"},
	}}
	if _, err := dyn.Resource(runsGVR).Namespace(namespace).Create(ctx, run, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating run of %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(runsGVR).Namespace(namespace).Delete(context.Background(), name+"-1", metav1.DeleteOptions{})
		_ = dyn.Resource(pipelinesGVR).Namespace(namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	for {
		pods, err := cluster.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if strings.HasPrefix(p.Name, name+"-1-") && p.Spec.NodeName != "" {
				node, err := cluster.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return node
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the task pod of %s was not scheduled: %v", name, pods.Items)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestGKEExample: one apply from nothing makes the cluster, its CPU, GPU
// and TPU pools and the platform; a GPU pipeline task lands on the GPU
// pool and a TPU task on the TPU slice; a second plan is empty; destroy
// leaves no node and no namespace.
func TestGKEExample(t *testing.T) {
	g := startGKEExample(t,
		`{ gpu-l4 = { machine_type = "g2-standard-24", node_count = 1 } }`,
		`{ tpu-v5e = { machine_type = "ct5lp-hightpu-4t", topology = "2x4", zone = "us-central1-a" } }`)
	cordonDefaultAccelerators(t)
	start := time.Now()
	out := g.terraform("apply", "-auto-approve", "-input=false", "-no-color")
	if testing.Verbose() {
		t.Log(out)
	}
	t.Logf("one apply from nothing: %s", time.Since(start).Round(time.Second))
	destroyed := false
	defer func() {
		if !destroyed {
			_, _ = g.tf.try(append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, g.vars...)...)
		}
	}()
	startController(t)

	// The teams' namespaces have Istio's sidecar injection, whose webhook
	// no istiod answers on simulated nodes: the tasks run in a namespace
	// of their own.
	tasks := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gke-tasks"}}
	if _, err := cluster.Client.CoreV1().Namespaces().Create(context.Background(), tasks, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), "gke-tasks", metav1.DeleteOptions{})
	})
	gpuNode := runAccelerated(t, "gke-tasks", "gpu-task", "{gpu: 1}")
	if gpuNode.Labels[fakegke.NodePoolLabel] != "gpu-l4" || gpuNode.Labels[fakegke.AcceleratorLabel] != "nvidia-l4" {
		t.Errorf("the GPU task landed on %s (labels %v), not on the gpu-l4 pool", gpuNode.Name, gpuNode.Labels)
	}
	tpuNode := runAccelerated(t, "gke-tasks", "tpu-task", "{tpu: 4}")
	if tpuNode.Labels[fakegke.NodePoolLabel] != "tpu-v5e" || tpuNode.Labels[fakegke.TPUTopologyLabel] != "2x4" {
		t.Errorf("the TPU task landed on %s (labels %v), not on the tpu-v5e slice", tpuNode.Name, tpuNode.Labels)
	}
	t.Logf("GPU task on %s, TPU task on %s", gpuNode.Name, tpuNode.Name)

	if out, err := g.tf.try(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, g.vars...)...); err != nil {
		t.Errorf("the plan after the apply is not empty (%v):\n%s", err, out)
	}
	g.terraform("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	ctx := context.Background()
	nodes, err := cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: fakegke.ClusterLabel})
	if err != nil || len(nodes.Items) != 0 {
		t.Errorf("%d nodes of the fake cluster are left after destroy (%v)", len(nodes.Items), err)
	}
	for _, ns := range []string{"vision", "speech", "knative-serving", "kfstack-system"} {
		if n, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil && n.DeletionTimestamp == nil {
			t.Errorf("namespace %s is left after destroy", ns)
		}
	}
	for ns, deployment := range map[string]string{"cert-manager": "cert-manager", "istio-system": "istiod", "auth": "dex", "knative-serving": "controller"} {
		if _, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{}); err == nil {
			t.Errorf("deployment %s/%s is left after destroy", ns, deployment)
		}
	}
}
