package knative

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestRealRelease applies Knative Serving 1.21 with net-istio from the
// real release files, served over HTTP on loopback, with an image mirror
// and a domain; finds a deleted Deployment, repairs it, and uninstalls.
func TestRealRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	server := httptest.NewServer(http.FileServer(http.Dir(bootstraptest.Upstream(t, "knative"))))
	defer server.Close()
	options := Options{
		Version: "1.21.1",
		// Serving core already holds every CRD of 1-serving-crds.yaml.
		ServingURL:    server.URL + "/serving-1.21.1/2-serving-core.yaml",
		NetIstioURL:   server.URL + "/net-istio-1.21/net-istio.yaml",
		Domain:        "kubeflow.example.com",
		ImageRegistry: "mirror.example.com/knative",
	}
	c, err := Component(options)
	if err != nil {
		t.Fatal(err)
	}
	in, err := bootstrap.NewInstaller(cluster.Config, t.TempDir(), func(_ context.Context, msg string, fields map[string]any) { t.Logf("%s %v", msg, fields) })
	if err != nil {
		t.Fatal(err)
	}
	// net-istio programs Istio: its CRDs must be there (kubeflow_istio).
	installIstioCRDs(ctx, t, in)

	status, err := in.Install(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !status.Ready || status.Manifests[0].Objects < 50 {
		t.Fatalf("status = %+v", status)
	}
	activator, err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, "activator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := activator.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(image, "mirror.example.com/knative/knative.dev/serving/cmd/activator@sha256:") {
		t.Errorf("activator image = %s, want it from the mirror", image)
	}
	domain, err := cluster.Client.CoreV1().ConfigMaps(DefaultNamespace).Get(ctx, "config-domain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := domain.Data["kubeflow.example.com"]; !ok {
		t.Errorf("config-domain = %v", domain.Data)
	}

	if err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Delete(ctx, "activator", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	status, err = in.Check(ctx, c)
	if err != nil || !slices.Contains(status.Drift, "Deployment knative-serving/activator: deleted") {
		t.Fatalf("check = %+v, %v", status, err)
	}
	// Repair patches only what is missing or changed: no unchanged object
	// goes through Knative's webhooks again (none answers under KWOK).
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	if status, err := in.Check(ctx, c); err != nil || len(status.Drift) != 0 {
		t.Fatalf("after repair: %+v, %v", status, err)
	}

	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, "controller", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("controller after uninstall: %v", err)
	}
	if status, err := in.Check(ctx, c); err != nil || status != nil {
		t.Errorf("after uninstall: %+v, %v", status, err)
	}
}

func installIstioCRDs(ctx context.Context, t *testing.T, in *bootstrap.Installer) {
	t.Helper()
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "base"), Version: "1.29.6"})
	base := &bootstrap.Component{Name: "istio", Namespace: "istio-system", Releases: []bootstrap.Release{{
		Name: "istio-base", Chart: bootstrap.ChartSource{Repository: repoURL, Name: "base", Version: "1.29.6"},
	}}}
	if _, err := in.Install(ctx, base); err != nil {
		t.Fatal(err)
	}
}

func TestBadVersion(t *testing.T) {
	if _, err := Component(Options{Version: "latest"}); err == nil || !strings.Contains(err.Error(), `version "latest" is not a Knative release`) {
		t.Fatalf("error = %v", err)
	}
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute
