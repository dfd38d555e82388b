// Package examples_test applies the complete examples, as `make demo` does,
// with the provider binary built from this repository.
package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

// TestQuickstart applies examples/quickstart (and so modules/profiles) to a
// local cluster through the real terraform binary and a dev override of the
// provider, plans again to prove nothing drifts, and destroys it.
func TestQuickstart(t *testing.T) {
	tf := terraformIn(t, "examples/quickstart", "modules/profiles")
	vars := "-var=kubeconfig=" + cluster.KubeconfigPath
	tf.run("get")
	tf.run("apply", "-auto-approve", "-input=false", "-no-color", vars)
	defer tf.run("destroy", "-auto-approve", "-input=false", "-no-color", vars)

	var outputs struct {
		Namespaces struct {
			Value map[string]string `json:"value"`
		} `json:"namespaces"`
	}
	if err := json.Unmarshal([]byte(tf.run("output", "-json")), &outputs); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"vision", "language", "platform-sandbox"} {
		if _, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	if got := len(outputs.Namespaces.Value); got != 3 {
		t.Errorf("namespaces output has %d entries, want 3: %v", got, outputs.Namespaces.Value)
	}
	// A second plan against the same cluster must be empty: no drift
	// from what the provider itself wrote.
	if out, err := tf.try("plan", "-detailed-exitcode", "-input=false", "-no-color", vars); err != nil {
		t.Errorf("plan after apply is not empty (%v):\n%s", err, out)
	}
}

// TestPlatformExample applies examples/platform (modules/platform and
// modules/profiles) with the real upstream charts and release files served
// on loopback, plans again to prove nothing drifts, and destroys it.
func TestPlatformExample(t *testing.T) {
	charts := bootstraptest.ServeCharts(t,
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "cert-manager", "v1.21.1"), Version: "v1.21.1", AppVersion: "v1.21.1"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "base"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "istio-discovery"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "istio", "1.29.6", "gateway"), Version: "1.29.6"},
		bootstraptest.Chart{Dir: bootstraptest.Upstream(t, "dex", "dex-0.24.0")},
	)
	files := httptest.NewServer(http.FileServer(http.Dir(bootstraptest.Upstream(t, "knative"))))
	defer files.Close()
	tf := terraformIn(t, "examples/platform", "modules/platform", "modules/profiles")
	vars := []string{
		"-var=kubeconfig=" + cluster.KubeconfigPath,
		"-var=chart_repository=" + charts,
		fmt.Sprintf(`-var=knative_release_files={serving_url=%q, net_istio_url=%q}`, files.URL+"/serving-1.21.1/2-serving-core.yaml", files.URL+"/net-istio-1.21/net-istio.yaml"),
		// No webhook server answers under KWOK.
		"-var=wait_for_webhooks=false",
	}
	tf.run("get")
	tf.run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	defer tf.run(append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	for ns, deployment := range map[string]string{"cert-manager": "cert-manager", "istio-system": "istiod", "auth": "dex", "knative-serving": "activator"} {
		if _, err := cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), deployment, metav1.GetOptions{}); err != nil {
			t.Errorf("deployment %s/%s: %v", ns, deployment, err)
		}
	}
	if out, err := tf.try(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...); err != nil {
		t.Errorf("plan after apply is not empty (%v):\n%s", err, out)
	}
}

// terraformDir is a copy of example and module folders with a terraform
// that uses the provider built from this repository.
type terraformDir struct {
	t         *testing.T
	terraform string
	dir       string
	env       []string
}

func terraformIn(t *testing.T, example string, modules ...string) *terraformDir {
	t.Helper()
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("terraform is not on PATH (.ci/run installs it)")
	}
	pluginDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "terraform-provider-kubeflow"), "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	work := t.TempDir()
	for _, dir := range append([]string{example}, modules...) {
		copyDir(t, filepath.Join("..", dir), filepath.Join(work, dir))
	}
	rc := filepath.Join(work, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"kfstack/kubeflow\" = %q\n  }\n  direct {}\n}\n", pluginDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &terraformDir{t: t, terraform: terraform, dir: filepath.Join(work, example), env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")}
}

func (d *terraformDir) try(args ...string) (string, error) {
	cmd := exec.Command(d.terraform, append([]string{"-chdir=" + d.dir}, args...)...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *terraformDir) run(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatalf("terraform %v: %v\n%s", args, err, out)
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if filepath.Ext(path) != ".tf" && filepath.Ext(path) != ".sh" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
