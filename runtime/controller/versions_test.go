package controller_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
)

// bigDAG is a native DAG of about 1 MiB (the most a Pipeline's content
// may hold), marked with a round number.
func bigDAG(round int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# round %d\nname: big\ntasks:\n", round)
	filler := strings.Repeat("x", 560)
	for i := 0; b.Len() < 1_040_000; i++ {
		fmt.Fprintf(&b, "- {name: t%04d, image: registry.example/step:1, command: [sh, -c, 'echo %d %s']}\n", i, i, filler)
	}
	return b.String()
}

// versionConfigMaps lists the ConfigMaps holding versions of a pipeline.
func versionConfigMaps(t *testing.T, ns, pipeline string) []corev1.ConfigMap {
	t.Helper()
	list := &corev1.ConfigMapList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns), client.HasLabels{versions.LabelPipelineUID}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.ConfigMap
	for _, cm := range list.Items {
		if cm.Annotations[versions.AnnotationPipeline] == pipeline && cm.DeletionTimestamp.IsZero() {
			out = append(out, cm)
		}
	}
	return out
}

// eventuallyConfigMaps waits until the pipeline's versions are held by n
// ConfigMaps.
func eventuallyConfigMaps(t *testing.T, ns, pipeline string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d version ConfigMaps of %s", n, pipeline), func() bool { return len(versionConfigMaps(t, ns, pipeline)) == n })
}

// getPipeline reads a pipeline.
func getPipeline(t *testing.T, ns, name string) *v1alpha1.Pipeline {
	t.Helper()
	p := &v1alpha1.Pipeline{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// setContent changes a pipeline's content and waits for the version
// (polling slowly: a big pipeline is a megabyte a read).
func setContent(t *testing.T, ns, name string, mutate func(*v1alpha1.Pipeline), version int32) {
	t.Helper()
	ctx := context.Background()
	if err := retryOnConflict(func() error {
		p := getPipeline(t, ns, name)
		mutate(p)
		return k8s.Update(ctx, p)
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); getPipeline(t, ns, name).Status.LatestVersion != version; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pipeline %s has no version %d after 30s: %+v", name, version, getPipeline(t, ns, name).Status.Conditions)
		}
	}
}

// TestVersionsAtTheSizeLimit keeps versions of a pipeline of about 1 MiB:
// 12 in `make test` (12 MiB of content, well past etcd's 1.5 MiB object
// limit), and with KFSTACK_RELIABILITY set (`make reliability`) 100, the
// most maxVersions allows. The Pipeline stays one small object (its status
// names each version's ConfigMap and hash; with the content in the status
// the second version would already pass etcd's limit), every version reads
// back exactly, and the versions dropped, by a lower maxVersions and then
// by the pipeline's deletion, are collected.
func TestVersionsAtTheSizeLimit(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	n, keep := 12, 3
	if os.Getenv("KFSTACK_RELIABILITY") != "" {
		n, keep = 100, 10
	}
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "big"}, Spec: v1alpha1.PipelineSpec{DAG: bigDAG(1), MaxVersions: int32(n)}}
	if len(p.Spec.DAG) > 1048576 || len(p.Spec.DAG) < 1_000_000 {
		t.Fatalf("content of %d bytes: want just under the 1 MiB limit", len(p.Spec.DAG))
	}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitPipelineVersion(ctx, t, ns, "big", 1)
	start := time.Now()
	for round := 2; round <= n; round++ {
		setContent(t, ns, "big", func(p *v1alpha1.Pipeline) { p.Spec.DAG = bigDAG(round) }, int32(round))
	}
	t.Logf("%d versions of %d bytes added in %s", n-1, len(p.Spec.DAG), time.Since(start).Round(time.Millisecond))

	raw, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/apis", v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version, "namespaces", ns, "pipelines", "big").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := getPipeline(t, ns, "big")
	if len(got.Status.Versions) != n {
		t.Fatalf("%d versions kept, want %d", len(got.Status.Versions), n)
	}
	spec := len(got.Spec.DAG)
	if status := len(raw) - spec; status > 64<<10 {
		t.Errorf("the Pipeline is %d bytes, %d of them beside its content: the status must not grow with the versions' content", len(raw), status)
	}
	t.Logf("the Pipeline with %d versions is %d bytes (content %d)", n, len(raw), spec)
	for i, v := range got.Status.Versions {
		content, err := versions.Read(ctx, k8s, ns, v.ConfigMap, v.ContentHash)
		if err != nil {
			t.Fatalf("version %d: %v", v.Number, err)
		}
		if content.DAG != bigDAG(i+1) {
			t.Fatalf("version %d reads back other content", v.Number)
		}
	}
	eventuallyConfigMaps(t, ns, "big", n)

	// Dropped versions are collected: no run uses them.
	if err := retryOnConflict(func() error {
		p := getPipeline(t, ns, "big")
		p.Spec.MaxVersions = int32(keep)
		return k8s.Update(ctx, p)
	}); err != nil {
		t.Fatal(err)
	}
	eventuallyConfigMaps(t, ns, "big", keep)
	if err := k8s.Delete(ctx, getPipeline(t, ns, "big")); err != nil {
		t.Fatal(err)
	}
	eventuallyConfigMaps(t, ns, "big", 0)
}

// TestRunOutlivesItsVersion: a started run runs to its end on its
// version's content when the version is dropped and when the pipeline is
// deleted, even from a controller that has never seen the content (a
// restart between the drop and the run's next step); the content is
// collected once the run has ended.
func TestRunOutlivesItsVersion(t *testing.T) {
	bin := runtimeBinary(t)
	ctx := context.Background()
	ns := namespace(t)
	prog := startPrograms(t, ns, succeed)
	prog.hold("two", true)
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain"}, Spec: v1alpha1.PipelineSpec{DAG: chainDAG, MaxVersions: 1}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitPipelineVersion(ctx, t, ns, "chain", 1)
	ctl := controllerProcess(t, bin)
	sub := func(r *v1alpha1.PipelineRun) { r.Labels = map[string]string{labelController: subprocessController} }
	createRun(t, ns, "pruned", "chain", v1alpha1.ExecutorPod, nil, sub)
	waitAttemptPod(t, ns, "pruned", "two", 1)

	// Version 2 drops version 1; its content stays while the run runs.
	setContent(t, ns, "chain", func(p *v1alpha1.Pipeline) { p.Spec.DAG = "# two\n" + chainDAG }, 2)
	if got := getPipeline(t, ns, "chain").Status.Versions; len(got) != 1 || got[0].Number != 2 {
		t.Fatalf("kept versions %+v, want version 2 alone", got)
	}
	createRun(t, ns, "orphaned", "chain", v1alpha1.ExecutorPod, nil, sub)
	waitAttemptPod(t, ns, "orphaned", "two", 1)
	if err := k8s.Delete(ctx, getPipeline(t, ns, "chain")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pipeline to be gone", func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "chain"}, &v1alpha1.Pipeline{}))
	})
	// Neither version's content is collected while its run runs.
	if n := len(versionConfigMaps(t, ns, "chain")); n != 2 {
		t.Fatalf("%d version ConfigMaps while both runs run, want 2", n)
	}

	// A controller that never compiled them takes over.
	if err := ctl.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = ctl.Wait()
	controllerProcess(t, bin)
	prog.hold("two", false)
	for _, name := range []string{"pruned", "orphaned"} {
		r := waitRun(t, ns, name, time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.Tasks["Succeeded"] != 3 {
			t.Errorf("%s: %s", name, describe(r))
		}
	}
	eventuallyConfigMaps(t, ns, "chain", 0)
}

// TestForgedVersionContentFailsTheRun: a namespace member who can edit
// ConfigMaps replaces a version's ConfigMap with other content (ours
// are immutable, so by deleting and making it again): a run of that
// version fails, naming the altered content, and runs nothing.
func TestForgedVersionContentFailsTheRun(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	// Content of its own: a plan compiled for the same content elsewhere
	// (the controller keeps plans by content hash) is the genuine one,
	// and a run would rightly run it without reading the ConfigMap.
	dag := "# " + ns + "\n" + chainDAG
	createPipeline(t, ns, "victim", "", dag)
	waitPipelineVersion(ctx, t, ns, "victim", 1)
	p := getPipeline(t, ns, "victim")
	v := p.Status.Versions[0]
	forged, err := versions.ConfigMap(p, 1, v1alpha1.PipelineSpec{DAG: strings.ReplaceAll(dag, "command: [step]", "command: [steal-secrets]")})
	if err != nil {
		t.Fatal(err)
	}
	forged.Annotations[versions.AnnotationHash] = v.ContentHash
	if err := k8s.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v.ConfigMap}}); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}
	createRun(t, ns, "forged", "victim", v1alpha1.ExecutorPod, nil)
	r := waitRun(t, ns, "forged", time.Minute)
	if r.Status.Phase != v1alpha1.RunFailed {
		t.Fatalf("a run of forged content: %s", describe(r))
	}
	contains(t, "the run's message", r.Status.Message, "content was altered", v.ConfigMap)
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods made from forged content", len(pods.Items))
	}
}
