package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/runtimetest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	testcluster.RunMainWithRealNode(m, func(c *testcluster.Cluster) { cluster = c })
}

// standInRef names the image that stands in for the images the shared
// container components name (alpine, library/bash, google/cloud-sdk,
// gcr.io/my-image, ubi9/python-311 for shell commands): the node has no
// registry to pull them from.
var standInRef = image.Ref("kfstack-e2e-standins", testcluster.RealNodeImageTag)

// standInImage is the base image (BusyBox) plus the programs those
// components call, which their real images would ship: my_program and
// gsutil on PATH, and run.sh in the working directory. They do what the
// component contract says: write the values to the paths they are given.
func standInImage(node *testcluster.RealNode) error {
	base, err := node.Image(image.BaseImage)
	if err != nil {
		return err
	}
	files := []image.File{
		{Path: "/usr/local/bin", Dir: true, Mode: 0o755},
		{Path: "/work", Dir: true, Mode: 0o755},
		{Path: "/work/run.sh", Mode: 0o644, Content: []byte(kfptest.RunSh)},
	}
	for name, program := range kfptest.Programs {
		files = append(files, image.File{Path: "/usr/local/bin/" + name, Mode: 0o755, Content: []byte(program)})
	}
	img, err := image.Build(image.Spec{Base: base, Layers: [][]image.File{files}, WorkingDir: "/work"})
	if err != nil {
		return err
	}
	return node.ImportImage(context.Background(), standInRef, img)
}

// startController runs the controller in the test process with the pod
// executor set up for the real node: task pods pinned to it, images
// rewritten to local ones and never pulled, and the pipeline root's
// directory mounted from the host at the same path. It runs until the
// test binary ends.
func startController(node *testcluster.RealNode, rootDir string) (client.Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := crds.Install(ctx, c, time.Minute); err != nil {
		return nil, err
	}
	var pin corev1.PodSpec
	node.Pin(&pin)
	hostPath := corev1.HostPathDirectory
	opts := controller.Options{
		RuntimeImage: node.Images[image.RuntimeImage],
		ImageRules: imagerewrite.Rules{Exact: map[string]string{
			"alpine": standInRef, "library/bash": standInRef, "google/cloud-sdk": standInRef, "gcr.io/my-image": standInRef,
			"registry.access.redhat.com/ubi9/python-311:latest": standInRef,
		}},
		TaskPodDefaults: controller.TaskPodDefaults{
			NodeSelector:    pin.NodeSelector,
			Tolerations:     pin.Tolerations,
			Volumes:         []corev1.Volume{{Name: "pipeline-root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: rootDir, Type: &hostPath}}}},
			VolumeMounts:    []corev1.VolumeMount{{Name: "pipeline-root", MountPath: rootDir}},
			ImagePullPolicy: corev1.PullNever,
		},
		PipelineRoot: "file://" + filepath.Join(rootDir, "artifacts"),
		WorkDir:      filepath.Join(rootDir, "work"),
	}
	// As the ServiceAccount kubeflow_runtime installs, with its RBAC.
	asController, err := runtimetest.ControllerConfig(ctx, cluster.Config, runtimetest.Namespace)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(asController, ctrl.Options{
		Scheme:  scheme,
		Cache:   controller.CacheOptions(nil),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return nil, err
	}
	if err := controller.Setup(mgr, opts); err != nil {
		return nil, err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "the controller stopped: %v\n", err)
		}
	}()
	return c, nil
}

// TestPodExecutorOnRealNode runs every container-component pipeline of the
// shared KFP test data through the controller with the pod executor: each
// task is a real container on the real node, the launcher copied in by
// the init container from the runtime image, outputs reported through the
// termination message and artifacts written to a file:// root on a
// hostPath.
func TestPodExecutorOnRealNode(t *testing.T) {
	node := cluster.SkipUnlessRealNode(t)
	ctx := context.Background()
	c, rootDir := setUp(t, node)
	ns := namespace(t, c)

	src := filepath.Join(rootDir, "source.txt")
	if err := os.WriteFile(src, []byte("contents of the source"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := kfptest.ContainerCases(t, src)
	for _, tc := range cases {
		if err := c.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.Name}, Spec: v1alpha1.PipelineSpec{Spec: string(tc.Spec)}}); err != nil {
			t.Fatal(err)
		}
		run := &v1alpha1.PipelineRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.Name},
			Spec:       v1alpha1.PipelineRunSpec{Pipeline: tc.Name, Executor: v1alpha1.ExecutorPod, Parameters: tc.Params},
		}
		if err := c.Create(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for _, tc := range cases {
		r := kfptest.WaitRun(t, c, ns, tc.Name, 5*time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded {
			msg := string(r.Status.Phase) + ": " + r.Status.Message
			if fl := r.Status.Failure; fl != nil {
				msg += "; task " + fl.Task + ": " + fl.Message + "\n" + fl.LogTail
			}
			t.Errorf("%s: %s", tc.File, msg)
			continue
		}
		for k, v := range tc.Outputs {
			if got := r.Status.Outputs[k]; got != v {
				t.Errorf("%s: output %s = %s, want %s", tc.File, k, got, v)
			}
		}
	}
	t.Logf("%d pipelines succeeded on the real node in %s", len(cases), time.Since(start).Round(100*time.Millisecond))

	// Every task ran as a real container on the real node and ended with
	// exit code 0; tasks with outputs reported them in the termination
	// message.
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ns), client.HasLabels{v1alpha1.LabelRunUID}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) < len(cases) {
		t.Errorf("%d task pods for %d runs", len(pods.Items), len(cases))
	}
	withMessage := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName != node.Name {
			t.Errorf("pod %s ran on %q, want the real node %s", p.Name, p.Spec.NodeName, node.Name)
		}
		for _, s := range p.Status.ContainerStatuses {
			term := s.State.Terminated
			if term == nil || term.ExitCode != 0 || !strings.HasPrefix(term.ContainerID, "containerd://") {
				t.Errorf("pod %s container %s: %+v", p.Name, s.Name, s.State)
				continue
			}
			if p.Annotations[v1alpha1.AnnotationOutputs] == "true" && term.Message != "" {
				withMessage++
			}
		}
	}
	if withMessage == 0 {
		t.Error("no task pod reported outputs through its termination message")
	}

	// The artifact that container_with_artifact_output wrote is in the
	// pipeline root on the host.
	var model string
	_ = filepath.WalkDir(filepath.Join(rootDir, "artifacts"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(path); err == nil && string(b) == kfptest.ModelArtifact {
				model = path
			}
		}
		return nil
	})
	if model == "" {
		t.Error("the model artifact is not in the file:// pipeline root on the host")
	}
}

// TestPodExecutorImageCannotStart: a task whose image is not on the node
// (and may not be pulled) fails at once, naming the image, instead of
// leaving its run Running for ever; its pod is deleted.
func TestPodExecutorImageCannotStart(t *testing.T) {
	node := cluster.SkipUnlessRealNode(t)
	ctx := context.Background()
	c, _ := setUp(t, node)
	ns := namespace(t, c)
	const dag = `name: missing-image
tasks:
- name: train
  image: kfstack.test/not-on-the-node:v1
  command: [sh, -c, "echo never"]
`
	if err := c.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing"}, Spec: v1alpha1.PipelineSpec{DAG: dag}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &v1alpha1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing"},
		Spec:       v1alpha1.PipelineRunSpec{Pipeline: "missing", Executor: v1alpha1.ExecutorPod},
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := kfptest.WaitRun(t, c, ns, "missing", 2*time.Minute)
	if r.Status.Phase != v1alpha1.RunFailed || r.Status.Failure == nil || r.Status.Failure.Task != "train" ||
		!strings.Contains(r.Status.Failure.Message, "ErrImageNeverPull") || !strings.Contains(r.Status.Failure.Message, "kfstack.test/not-on-the-node:v1") {
		t.Fatalf("run: %s %s, failure %+v", r.Status.Phase, r.Status.Message, r.Status.Failure)
	}
	t.Logf("failed after %s: %s", time.Since(start).Round(100*time.Millisecond), r.Status.Failure.Message)
	deadline := time.Now().Add(time.Minute)
	for {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod that cannot start is still there: %s %s", pods.Items[0].Name, pods.Items[0].Status.Phase)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// setUp starts the controller once for the tests of this package and
// returns a client and the host directory behind the pipeline root.
func setUp(t *testing.T, node *testcluster.RealNode) (client.Client, string) {
	t.Helper()
	once.Do(func() {
		// The pods' root user writes there; the directory is the host's,
		// removed with the cluster's.
		shared.rootDir = filepath.Join(cluster.Dir, "pipeline-root")
		if shared.err = os.MkdirAll(shared.rootDir, 0o755); shared.err != nil {
			return
		}
		if shared.err = standInImage(node); shared.err != nil {
			return
		}
		shared.client, shared.err = startController(node, shared.rootDir)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.client, shared.rootDir
}

var (
	once   sync.Once
	shared struct {
		client  client.Client
		rootDir string
		err     error
	}
)

// namespace creates a namespace for one test and waits for its default
// service account, which task pods run as.
func namespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	deadline := time.Now().Add(30 * time.Second)
	for c.Get(context.Background(), client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{}) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default service account", ns.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ns.Name
}
