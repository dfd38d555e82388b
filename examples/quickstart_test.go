// Package examples_test applies the complete examples, as `make demo` does,
// with the provider binary built from this repository.
package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

// TestQuickstart applies examples/quickstart (and so modules/profiles) to a
// local cluster through the real terraform binary and a dev override of the
// provider, as make demo does: the runtime controller runs as a process
// here (the cluster's nodes are simulated) with the local executor, and
// both runs must produce their outputs. It plans again to prove nothing
// drifts, and destroys it.
func TestQuickstart(t *testing.T) {
	tf := terraformIn(t, "examples/quickstart", "modules/profiles")
	startController(t)
	vars := []string{"-var=kubeconfig=" + cluster.KubeconfigPath, "-var=runtime_replicas=0", "-var=executor=local"}
	tf.run("get")
	tf.run(append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars...)...)
	defer tf.run(append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, vars...)...)

	var outputs struct {
		Namespaces struct {
			Value map[string]string `json:"value"`
		} `json:"namespaces"`
		RunOutputs struct {
			Value map[string]struct {
				Phase   string            `json:"phase"`
				Outputs map[string]string `json:"outputs"`
			} `json:"value"`
		} `json:"run_outputs"`
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
	// 12 words in the text; 1+2+…+100.
	for run, want := range map[string]map[string]string{"word_count": {"words": "12"}, "triangle": {"total": "5050"}} {
		got := outputs.RunOutputs.Value[run]
		if got.Phase != "Succeeded" || fmt.Sprint(got.Outputs) != fmt.Sprint(want) {
			t.Errorf("run %s: phase %s, outputs %v; want Succeeded with %v", run, got.Phase, got.Outputs, want)
		}
	}
	// A second plan against the same cluster must be empty: no drift
	// from what the provider itself wrote.
	if out, err := tf.try(append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...); err != nil {
		t.Errorf("plan after apply is not empty (%v):\n%s", err, out)
	}
}

// TestPlatformExample checks that examples/platform and the modules it
// uses (modules/platform, modules/profiles) are valid with the provider
// built from this repository. It is not applied here: the module installs
// Istio's ingress gateway, whose pods istiod's injection webhook must
// complete, and no webhook server runs on KWOK nodes. The same resources
// are applied together by TestAccPlatform_oneApply in provider/.
func TestPlatformExample(t *testing.T) {
	tf := terraformIn(t, "examples/platform", "modules/platform", "modules/profiles")
	tf.run("get")
	if out := tf.run("validate", "-no-color"); !strings.Contains(out, "The configuration is valid") {
		t.Fatalf("terraform validate: %s", out)
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

// startController runs kfstack-runtime's controller as make demo's run.sh
// does, until the test ends.
func startController(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "kfstack-runtime")
	if out, err := exec.Command("go", "build", "-o", bin, "../runtime/cmd/kfstack-runtime").CombinedOutput(); err != nil {
		t.Fatalf("building kfstack-runtime: %v\n%s", err, out)
	}
	var log strings.Builder
	cmd := exec.Command(bin, "controller", "--leader-elect", "--leader-election-namespace=kube-system",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--allow-local-executor", "--workdir", filepath.Join(dir, "runs"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("controller log:\n%s", log.String())
		}
	})
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
		if ext := filepath.Ext(path); ext != ".tf" && ext != ".sh" && ext != ".yaml" {
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
