package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

func newTestInstaller(t *testing.T) *Installer {
	t.Helper()
	in, err := NewInstaller(cluster.Config, t.TempDir(), func(_ context.Context, msg string, fields map[string]any) {
		t.Logf("%s %v", msg, fields)
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func demoComponent(repoURL, namespace, version string) *Component {
	return &Component{
		Name:      "demo",
		Namespace: namespace,
		Releases: []Release{{
			Name:   "demo",
			Chart:  ChartSource{Repository: repoURL, Name: "demo", Version: version},
			Values: map[string]any{"message": "hello"},
		}},
	}
}

var widgets = schema.GroupVersionResource{Group: "demo.kfstack.dev", Version: "v1", Resource: "widgets"}

// TestInstallUpgradeDriftUninstall walks a component through its life: a
// fresh install from an HTTP chart repository (CRDs before the custom
// resources that need them), drift found and repaired, an upgrade that
// changes a CRD (which Helm alone never does), and an uninstall that
// leaves nothing behind.
func TestInstallUpgradeDriftUninstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	repoURL := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: "testdata/charts/demo-1"},
		bootstraptest.Chart{Dir: "testdata/charts/demo-2"},
	)
	in := newTestInstaller(t)
	c := demoComponent(repoURL, "demo-life", "0.1.0")

	status, err := in.Install(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !status.Ready || len(status.Releases) != 1 || status.Releases[0].ChartVersion != "0.1.0" || status.Releases[0].Objects != 3 {
		t.Fatalf("status after install = %+v", status)
	}
	if _, err := in.dynamic.Resource(widgets).Namespace("demo-life").Get(ctx, "demo-widget", metav1.GetOptions{}); err != nil {
		t.Fatalf("the chart's custom resource: %v", err)
	}

	// Drift: a deleted Deployment and an edited ConfigMap.
	if err := cluster.Client.AppsV1().Deployments("demo-life").Delete(ctx, "demo-server", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps("demo-life").Get(ctx, "demo-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["message"] = "edited by hand"
	if _, err := cluster.Client.CoreV1().ConfigMaps("demo-life").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	status, err = in.Check(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	wantDrift := []string{"ConfigMap demo-life/demo-config: data changed", "Deployment demo-life/demo-server: deleted"}
	slices.Sort(status.Drift)
	if !slices.Equal(status.Drift, wantDrift) || status.Ready {
		t.Fatalf("drift = %q (ready %v), want %q", status.Drift, status.Ready, wantDrift)
	}
	// Installing again repairs both.
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	if status, err = in.Check(ctx, c); err != nil || len(status.Drift) != 0 || !status.Ready {
		t.Fatalf("after repair: %+v, %v", status, err)
	}

	// Upgrade: the new chart's CRD has a new field; Helm never upgrades
	// crds/, the installer does.
	c.Releases[0].Chart.Version = "0.2.0"
	status, err = in.Install(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if status.Releases[0].ChartVersion != "0.2.0" || status.Releases[0].Revision != 3 {
		t.Fatalf("after upgrade: %+v", status.Releases[0])
	}
	crd, err := in.dynamic.Resource(crdResource).Get(ctx, "widgets.demo.kfstack.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if _, found, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties", "color"); !found {
		t.Fatal("the CRD was not upgraded: spec.color is missing")
	}

	// Uninstall leaves nothing behind: objects, custom resources, CRDs.
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.AppsV1().Deployments("demo-life").Get(ctx, "demo-server", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after uninstall: %v", err)
	}
	if _, err := in.dynamic.Resource(crdResource).Get(ctx, "widgets.demo.kfstack.dev", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("CRD after uninstall: %v", err)
	}
	if status, err := in.Check(ctx, c); err != nil || status != nil {
		t.Errorf("check after uninstall = %+v, %v; want nothing installed", status, err)
	}
}

// TestInstallRecoversPendingRelease simulates an apply killed mid-upgrade:
// the release is left pending-upgrade, which makes plain Helm refuse every
// later upgrade. The next install converges.
func TestInstallRecoversPendingRelease(t *testing.T) {
	ctx := context.Background()
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: "testdata/charts/demo-1"})
	in := newTestInstaller(t)
	c := demoComponent(repoURL, "demo-pending", "0.1.0")
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Uninstall(context.Background(), c) })
	cfg, err := in.helmConfig(ctx, "demo-pending")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := cfg.Releases.Last("demo")
	if err != nil {
		t.Fatal(err)
	}
	rel.SetStatus(release.StatusPendingUpgrade, "killed mid-upgrade")
	if err := cfg.Releases.Update(rel); err != nil {
		t.Fatal(err)
	}
	status, err := in.Check(ctx, c)
	if err != nil || !slices.Contains(status.Drift, "release demo-pending/demo: pending-upgrade") {
		t.Fatalf("check of the stuck release = %+v, %v", status, err)
	}
	c.Releases[0].Values["message"] = "after recovery"
	status, err = in.Install(ctx, c)
	if err != nil {
		t.Fatalf("install after an interrupted upgrade: %v", err)
	}
	if status.Releases[0].Revision != 2 {
		t.Errorf("revision = %d, want 2", status.Releases[0].Revision)
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps("demo-pending").Get(ctx, "demo-config", metav1.GetOptions{})
	if err != nil || cm.Data["message"] != "after recovery" {
		t.Errorf("configmap after recovery = %v, %v", cm.Data, err)
	}
}

// TestFailedInstallLeavesNothing: a release that never becomes ready (its
// pods cannot be scheduled) is removed again, with an error that says what
// it waited for.
func TestFailedInstallLeavesNothing(t *testing.T) {
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: "testdata/charts/demo-1"})
	in := newTestInstaller(t)
	c := demoComponent(repoURL, "demo-failed", "0.1.0")
	c.Releases[0].Values["nodeSelector"] = map[string]any{"pool": "does-not-exist"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := in.Install(ctx, c)
	if err == nil {
		t.Fatal("install of an unschedulable release succeeded")
	}
	for _, want := range []string{"release demo did not become ready", "Deployment demo-failed/demo-server: 0/1 available"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	status, checkErr := in.Check(context.Background(), c)
	if checkErr != nil || status != nil {
		t.Errorf("after the failed install: %+v, %v; want no release", status, checkErr)
	}
	if _, err := cluster.Client.AppsV1().Deployments("demo-failed").Get(context.Background(), "demo-server", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment left behind: %v", err)
	}
}

func TestUnreachableRepository(t *testing.T) {
	in := newTestInstaller(t)
	c := demoComponent("http://127.0.0.1:1/charts", "demo-unreachable", "0.1.0")
	_, err := in.Install(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "finding chart demo in repository http://127.0.0.1:1/charts") {
		t.Fatalf("error = %v", err)
	}
}

func TestUnknownChartVersion(t *testing.T) {
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: "testdata/charts/demo-1"})
	in := newTestInstaller(t)
	_, err := in.Install(context.Background(), demoComponent(repoURL, "demo-version", "9.9.9"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("finding chart demo in repository %s", repoURL)) || !strings.Contains(err.Error(), "9.9.9") {
		t.Fatalf("error = %v", err)
	}
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute
