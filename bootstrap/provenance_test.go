package bootstrap

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// TestChartProvenance verifies charts signed with a key made by the test:
// from an HTTP repository and from a local directory of archives. A chart
// signed by that key loads; a chart changed after signing, one signed by
// another key and one with no provenance at all are refused, naming why,
// before anything reaches the cluster.
func TestChartProvenance(t *testing.T) {
	ctx := context.Background()
	signer, keyring := bootstraptest.SigningKey(t, "kfstack-charts")
	stranger, _ := bootstraptest.SigningKey(t, "someone-else")
	demo := func(version string) bootstraptest.Chart {
		return bootstraptest.Chart{Dir: "testdata/charts/demo-1", Version: version}
	}
	signed, tampered, foreign, unsigned := demo("0.1.0"), demo("0.2.0"), demo("0.3.0"), demo("0.4.0")
	signed.SignedBy = signer
	tampered.SignedBy, tampered.Tamper = signer, true
	foreign.SignedBy = stranger
	repoURL := bootstraptest.ServeCharts(t, signed, tampered, foreign, unsigned)
	localDir := t.TempDir()
	for _, c := range []bootstraptest.Chart{signed, tampered, foreign, unsigned} {
		bootstraptest.Package(t, c, localDir)
	}

	in := newTestInstaller(t)
	cfg, err := in.helmConfig(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		want    string // "" for verified
	}{
		{"0.1.0", ""},
		{"0.2.0", "sha256 sum does not match"},
		{"0.3.0", "signature made by unknown entity"},
		{"0.4.0", "provenance"},
	} {
		for _, src := range []Source{
			{Repository: repoURL, Verify: true, Keyring: keyring},
			{ChartDir: localDir, Verify: true, Keyring: keyring},
		} {
			chartSource := src.Chart("unused", "demo", tc.version)
			ch, err := in.loadChart(ctx, chartSource, cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s: %v", chartSource, err)
			case tc.want == "" && ch.Metadata.Version != tc.version:
				t.Errorf("%s: loaded version %s", chartSource, ch.Metadata.Version)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "verif")):
				t.Errorf("%s: error = %v, want one saying %q", chartSource, err, tc.want)
			}
		}
	}

	// Without verify, the same tampered chart loads: verification is what
	// refuses it.
	if _, err := in.loadChart(ctx, ChartSource{Repository: repoURL, Name: "demo", Version: "0.2.0"}, cfg); err != nil {
		t.Errorf("loading without verify: %v", err)
	}
	// A keyring that is not there is named.
	_, err = in.loadChart(ctx, ChartSource{Repository: repoURL, Name: "demo", Version: "0.1.0", Verify: true, Keyring: filepath.Join(t.TempDir(), "missing.gpg")}, cfg)
	if err == nil || !strings.Contains(err.Error(), "keyring:") {
		t.Errorf("missing keyring: error = %v", err)
	}

	// A whole install of the tampered chart fails and leaves nothing: no
	// release, no workload.
	const ns = "demo-tampered"
	c := demoComponent(repoURL, ns, "0.2.0")
	c.Releases[0].Chart.Verify, c.Releases[0].Chart.Keyring = true, keyring
	if _, err := in.Install(ctx, c); err == nil || !strings.Contains(err.Error(), "sha256 sum does not match") {
		t.Fatalf("installing a tampered chart: %v", err)
	}
	nsCfg, err := in.helmConfig(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := action.NewHistory(nsCfg).Run("demo"); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Errorf("release history after a refused chart: %v", err)
	}
	if _, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "demo-server", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment of a refused chart: %v", err)
	}
}
