package certmanager

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

// TestRealChart installs cert-manager's real chart from a chart repository
// on loopback, upgrades it to the next release and uninstalls it.
func TestRealChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	repoURL := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.0"), Version: "v1.21.0", AppVersion: "v1.21.0"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
	)
	in, err := bootstrap.NewInstaller(cluster.Config, t.TempDir(), func(_ context.Context, msg string, fields map[string]any) {
		t.Logf("%s %v", msg, fields)
	})
	if err != nil {
		t.Fatal(err)
	}
	options := Options{
		Version:   "v1.21.0",
		Namespace: DefaultNamespace,
		Source:    bootstrap.Source{Repository: repoURL},
		// Under KWOK no pod runs, so no check can reach the API.
		Values:        map[string]any{"startupapicheck": map[string]any{"enabled": false}},
		ImageRegistry: "mirror.example.com",
	}
	status, err := in.Install(ctx, Component(options))
	if err != nil {
		t.Fatal(err)
	}
	if !status.Ready || status.Releases[0].AppVersion != "v1.21.0" {
		t.Fatalf("status = %+v", status)
	}
	deploy, err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, "cert-manager-webhook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := deploy.Spec.Template.Spec.Containers[0].Image; image != "mirror.example.com/jetstack/cert-manager-webhook:v1.21.0" {
		t.Errorf("webhook image = %s, want it from the mirror", image)
	}
	if _, err := cluster.Client.Discovery().ServerResourcesForGroupVersion("cert-manager.io/v1"); err != nil {
		t.Errorf("cert-manager CRDs are not served: %v", err)
	}

	options.Version = "v1.21.1"
	status, err = in.Install(ctx, Component(options))
	if err != nil {
		t.Fatal(err)
	}
	if status.Releases[0].AppVersion != "v1.21.1" || status.Releases[0].Revision != 2 {
		t.Fatalf("after upgrade: %+v", status.Releases[0])
	}
	if status, err := in.Check(ctx, Component(options)); err != nil || len(status.Drift) > 0 || !status.Ready {
		t.Fatalf("check after upgrade: %+v, %v", status, err)
	}

	if err := in.Uninstall(ctx, Component(options)); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, "cert-manager", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after uninstall: %v", err)
	}
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute

// TestClusterIssuerSet checks the issuer's manifest set: a self-signed
// ClusterIssuer when named, and an empty set otherwise, so that turning
// it off deletes the one applied before.
func TestClusterIssuerSet(t *testing.T) {
	c := Component(Options{Version: DefaultVersion, Namespace: DefaultNamespace, ClusterIssuer: "kfstack-selfsigned"})
	if len(c.Manifests) != 1 || c.Manifests[0].Name != IssuerSet || len(c.Manifests[0].Objects) != 1 {
		t.Fatalf("manifests = %+v", c.Manifests)
	}
	issuer := c.Manifests[0].Objects[0]
	if issuer.GetKind() != "ClusterIssuer" || issuer.GetName() != "kfstack-selfsigned" || issuer.Object["spec"] == nil {
		t.Errorf("issuer = %v", issuer.Object)
	}
	if _, ok := issuer.Object["spec"].(map[string]any)["selfSigned"]; !ok {
		t.Errorf("issuer spec = %v, want selfSigned", issuer.Object["spec"])
	}
	off := Component(Options{Version: DefaultVersion, Namespace: DefaultNamespace})
	if len(off.Manifests) != 1 || off.Manifests[0].Name != IssuerSet || len(off.Manifests[0].Objects) != 0 {
		t.Errorf("without an issuer: manifests = %+v", off.Manifests)
	}
}
