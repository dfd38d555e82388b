package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// TestAccInterruptedApply kills the provider, and terraform with it, while
// Helm is installing cert-manager, leaving the release pending-install
// (the state that blocks every later `helm upgrade`, helm #398); the next
// `terraform apply` must converge, and a plan after it must be empty.
// It runs the real terraform binary on a provider built from this
// repository, found through a dev_overrides CLI configuration.
func TestAccInterruptedApply(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	chartDir := bootstraptest.Upstream(t, "cert-manager", "v1.21.1")
	repoURL := bootstraptest.ServeCharts(t, bootstraptest.Chart{Dir: chartDir, Version: "v1.21.1", AppVersion: "v1.21.1"})
	tf := newTerraformRun(t)
	ns := uniqueName("certs-kill")
	tf.write(fmt.Sprintf(`
provider "kubeflow" {
  config_path = %q
}

resource "kubeflow_cert_manager" "this" {
  namespace         = %q
  repository        = %q
  wait_for_webhooks = false # no webhook server runs under KWOK
  cluster_issuer    = ""
  values            = yamlencode({ startupapicheck = { enabled = false } })
}
`, testCluster.KubeconfigPath, ns, repoURL))

	// Watch Helm's release records from before the apply starts, so the
	// pending-install record is seen the moment it is written.
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	w, err := testCluster.Client.CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=cert-manager"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	apply := tf.start("apply", "-auto-approve", "-input=false", "-no-color")
	started := time.Now()
	pending := false
	for !pending {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of Helm's release records ended")
			}
			if s, isSecret := ev.Object.(*corev1.Secret); isSecret && ev.Type != watch.Deleted && s.Labels["status"] == "pending-install" {
				pending = true
			}
		case <-apply.done:
			t.Fatalf("terraform apply ended before Helm began installing:\n%s", apply.output())
		case <-ctx.Done():
			t.Fatal("no pending-install release appeared")
		}
	}
	provider, err := childProcess(apply.cmd.Process.Pid, tf.provider)
	if err != nil {
		t.Fatalf("finding the provider process: %v\n%s", err, apply.output())
	}
	if err := syscall.Kill(provider, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(-apply.cmd.Process.Pid, syscall.SIGKILL) // terraform, in its own process group
	<-apply.done
	t.Logf("killed the provider (pid %d) and terraform %s after the apply began", provider, time.Since(started).Round(time.Millisecond))
	status := releaseStatus(ctx, t, ns)
	if status != "pending-install" {
		t.Fatalf("the release is %q after the kill, want pending-install (the provider finished first?)", status)
	}

	start := time.Now()
	if out, err := tf.run("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("the apply after the interruption failed: %v\n%s", err, out)
	}
	t.Logf("the apply after the interruption converged in %s", time.Since(start).Round(time.Millisecond))
	if status := releaseStatus(ctx, t, ns); status != "deployed" {
		t.Errorf("release status %q after the second apply", status)
	}
	if ready, err := tf.stateValue("kubeflow_cert_manager.this", "ready"); err != nil || ready != true {
		t.Errorf("ready = %v after the second apply (%v)", ready, err)
	}
	if out, err := tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Errorf("the plan after the second apply is not empty (%v):\n%s", err, out)
	}
	if out, err := tf.run("destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if _, err := testCluster.Client.AppsV1().Deployments(ns).Get(ctx, "cert-manager", metav1.GetOptions{}); err == nil {
		t.Errorf("cert-manager is still installed after destroy")
	}
}

// releaseStatus is the status of the latest record of the cert-manager
// release in namespace.
func releaseStatus(ctx context.Context, t *testing.T, namespace string) string {
	t.Helper()
	secrets, err := testCluster.Client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=cert-manager"})
	if err != nil {
		t.Fatal(err)
	}
	status, latest := "", -1
	for _, s := range secrets.Items {
		if v, err := strconv.Atoi(s.Labels["version"]); err == nil && v > latest {
			status, latest = s.Labels["status"], v
		}
	}
	return status
}

// terraformRun is a working directory where the real terraform binary
// runs with the provider built from this repository.
type terraformRun struct {
	t         *testing.T
	terraform string
	dir       string
	provider  string
	env       []string
}

func newTerraformRun(t *testing.T) *terraformRun {
	t.Helper()
	terraform := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if terraform == "" {
		var err error
		if terraform, err = exec.LookPath("terraform"); err != nil {
			t.Skip("terraform is not on PATH and TF_ACC_TERRAFORM_PATH is not set")
		}
	}
	bin := t.TempDir()
	provider := filepath.Join(bin, "terraform-provider-kubeflow")
	if out, err := exec.Command("go", "build", "-o", provider, "..").CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "terraform.rc")
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.terraform.io/kfstack/kubeflow\" = %q\n  }\n  direct {}\n}\n", bin)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return &terraformRun{t: t, terraform: terraform, dir: filepath.Join(dir, "work"), provider: provider, env: env}
}

func (tf *terraformRun) write(config string) {
	tf.t.Helper()
	if err := os.MkdirAll(tf.dir, 0o755); err != nil {
		tf.t.Fatal(err)
	}
	config = "terraform {\n  required_providers {\n    kubeflow = { source = \"kfstack/kubeflow\" }\n  }\n}\n" + config
	if err := os.WriteFile(filepath.Join(tf.dir, "main.tf"), []byte(config), 0o644); err != nil {
		tf.t.Fatal(err)
	}
}

func (tf *terraformRun) command(args ...string) *exec.Cmd {
	cmd := exec.Command(tf.terraform, args...)
	cmd.Dir = tf.dir
	cmd.Env = tf.env
	return cmd
}

// stateValue is an attribute of a resource in the state.
func (tf *terraformRun) stateValue(address, attribute string) (any, error) {
	out, err := tf.command("show", "-json").Output()
	if err != nil {
		return nil, err
	}
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &state); err != nil {
		return nil, err
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Address == address {
			return r.Values[attribute], nil
		}
	}
	return nil, fmt.Errorf("%s is not in the state", address)
}

func (tf *terraformRun) run(args ...string) (string, error) {
	out, err := tf.command(args...).CombinedOutput()
	return string(out), err
}

// runningCommand is a terraform command started in its own process
// group, so that it and its provider can be killed together.
type runningCommand struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func (c *runningCommand) output() string { return c.out.String() }

func (tf *terraformRun) start(args ...string) *runningCommand {
	tf.t.Helper()
	cmd := tf.command(args...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tf.t.Fatal(err)
	}
	c := &runningCommand{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	tf.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	})
	return c
}

// childProcess finds the child of parent that runs the executable exe.
func childProcess(parent int, exe string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		if path, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && path == exe {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child of %d runs %s", parent, exe)
}
