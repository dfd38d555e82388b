package istio

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

func serveIstio(t *testing.T, versions ...string) string {
	var charts []bootstraptest.Chart
	for _, v := range versions {
		for _, dir := range []string{"base", "istio-discovery", "gateway"} {
			charts = append(charts, bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", v, dir), Version: v, AppVersion: v})
		}
	}
	return bootstraptest.ServeCharts(t, charts...)
}

// TestRealCharts installs Istio's real base, istiod and gateway charts,
// upgrades them to the next release (CRDs included) and uninstalls them.
func TestRealCharts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	repoURL := serveIstio(t, "1.29.6", "1.30.3")
	in, err := bootstrap.NewInstaller(cluster.Config, t.TempDir(), func(_ context.Context, msg string, fields map[string]any) {
		t.Logf("%s %v", msg, fields)
	})
	if err != nil {
		t.Fatal(err)
	}
	// No gateway: its pods get their image from istiod's sidecar injector,
	// a webhook no server answers under KWOK, so they are never created.
	options := Options{Version: "1.29.6", Namespace: DefaultNamespace, Source: bootstrap.Source{Repository: repoURL}}
	status, err := in.Install(ctx, Component(options))
	if err != nil {
		t.Fatal(err)
	}
	if len(status.Releases) != 2 || !status.Ready {
		t.Fatalf("status = %+v", status)
	}
	istiod, err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, "istiod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := istiod.Spec.Template.Spec.Containers[0].Image; image != "docker.io/istio/pilot:1.29.6" {
		t.Errorf("istiod image = %s", image)
	}
	if _, err := cluster.Client.Discovery().ServerResourcesForGroupVersion("security.istio.io/v1"); err != nil {
		t.Errorf("Istio CRDs are not served: %v", err)
	}

	options.Version = "1.30.3"
	status, err = in.Install(ctx, Component(options))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range status.Releases {
		if r.ChartVersion != "1.30.3" || r.Revision != 2 {
			t.Errorf("after upgrade: %+v", r)
		}
	}
	if err := in.Uninstall(ctx, Component(options)); err != nil {
		t.Fatal(err)
	}
	if status, err := in.Check(ctx, Component(options)); err != nil || status != nil {
		t.Errorf("after uninstall: %+v, %v", status, err)
	}
	// Istio marks its CRDs helm.sh/resource-policy: keep; an uninstall
	// still leaves nothing behind.
	if _, err := cluster.Client.Discovery().ServerResourcesForGroupVersion("security.istio.io/v1"); err == nil {
		t.Error("Istio's CRDs are still served after uninstall")
	}
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute
