package controller_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
)

// TestWebhook serves the runtime's admission webhooks from this process,
// registers them with the API server for the test's namespace only, and
// checks what kubectl apply would see: bad content is refused with the
// field and the problem, good content is admitted, and a run's settings
// cannot change after creation while cancel can.
func TestWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := namespace(t)
	registerWebhooks(ctx, t, ns, testOptions)
	warned := &warnings{}
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WarningHandler = warned
	kc, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}

	kfp, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", "loops_nested_condition.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name      string
		spec, dag string
		want      []string
	}{
		{"broken KFP spec", strings.Replace(string(kfp), "componentRef: {name: comp-stats}", "componentRef: {name: comp-statz}", 1), "",
			[]string{`admission webhook "pipelines.kfstack.dev" denied the request`, "spec.spec", `task "stats": componentRef.name: unknown component "comp-statz"`}},
		{"unparsable KFP spec", "root: [", "", []string{"spec.spec"}},
		{"unknown dependency", "", strings.Replace(retryDAG, "dependsOn: [flaky]", "dependsOn: [nosuch]", 1),
			[]string{`admission webhook "pipelines.kfstack.dev" denied the request`, "spec.dag", `task "report"`, `unknown task "nosuch"`}},
		// The CRD's own rule refuses this before any webhook is called;
		// TestWebhookValidatorsDirectly shows the webhook refuses it too.
		{"both spec and dag", string(kfp), retryDAG, []string{"spec", "exactly one of spec and dag must be set"}},
	}
	for i, tc := range refused {
		p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("bad-%d", i)}, Spec: v1alpha1.PipelineSpec{Spec: tc.spec, DAG: tc.dag}}
		err := kc.Create(ctx, p)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: created (%v), want an Invalid error", tc.name, err)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		contains(t, tc.name, err.Error(), tc.want...)
	}

	// Good content is admitted, and a change to bad content is refused.
	good := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "retry"}, Spec: v1alpha1.PipelineSpec{DAG: retryDAG}}
	if err := kc.Create(ctx, good); err != nil {
		t.Fatalf("a valid pipeline was refused: %v", err)
	}
	if err := kc.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kfp"}, Spec: v1alpha1.PipelineSpec{Spec: string(kfp)}}); err != nil {
		t.Fatalf("a valid KFP pipeline was refused: %v", err)
	}
	err = retryOnConflict(func() error {
		broken := &v1alpha1.Pipeline{}
		if err := kc.Get(ctx, client.ObjectKeyFromObject(good), broken); err != nil {
			return err
		}
		broken.Spec.DAG = strings.Replace(retryDAG, "dependsOn: [flaky]", "dependsOn: [nosuch]", 1)
		return kc.Update(ctx, broken)
	})
	if !apierrors.IsInvalid(err) {
		t.Errorf("changing to bad content: %v, want an Invalid error", err)
	} else {
		contains(t, "update", err.Error(), "spec.dag", `unknown task "nosuch"`)
	}
	waitPipelineVersion(ctx, t, ns, "retry", 1)

	// Runs: settings the schema cannot check, and parameters against a
	// pinned version.
	counter := filepath.Join(t.TempDir(), "counter")
	badRuns := []struct {
		name   string
		mutate func(*v1alpha1.PipelineRun)
		want   []string
	}{
		{"zero timeout", func(r *v1alpha1.PipelineRun) { r.Spec.Timeout = &metav1.Duration{} }, []string{"spec.timeout", "must be positive"}},
		{"bad service account", func(r *v1alpha1.PipelineRun) { r.Spec.ServiceAccountName = "Runner_1" }, []string{"spec.serviceAccountName"}},
		{"unknown parameter of a pinned version", func(r *v1alpha1.PipelineRun) { r.Spec.PipelineVersion = 1; r.Spec.Parameters["countr"] = "x" },
			[]string{`admission webhook "pipelineruns.kfstack.dev" denied the request`, `spec.parameters[countr]`, `the pipeline has no parameter "countr" (version 1 of pipeline "retry")`}},
	}
	for i, tc := range badRuns {
		run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("bad-%d", i)},
			Spec: v1alpha1.PipelineRunSpec{Pipeline: "retry", Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"counter": counter}}}
		tc.mutate(run)
		err := kc.Create(ctx, run)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: created (%v), want an Invalid error", tc.name, err)
			continue
		}
		contains(t, tc.name, err.Error(), tc.want...)
	}

	// A pinned version that is no longer kept.
	pruned := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pruned"}, Spec: v1alpha1.PipelineSpec{DAG: retryDAG, MaxVersions: 1}}
	if err := kc.Create(ctx, pruned); err != nil {
		t.Fatal(err)
	}
	waitPipelineVersion(ctx, t, ns, "pruned", 1)
	err = retryOnConflict(func() error {
		if err := kc.Get(ctx, client.ObjectKeyFromObject(pruned), pruned); err != nil {
			return err
		}
		pruned.Spec.DAG = strings.Replace(retryDAG, "default: hello", "default: hi", 1)
		return kc.Update(ctx, pruned)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPipelineVersion(ctx, t, ns, "pruned", 2)
	err = kc.Create(ctx, &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pinned"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "pruned", PipelineVersion: 1, Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"counter": counter}}})
	if !apierrors.IsInvalid(err) {
		t.Errorf("a run of a version no longer kept: %v, want an Invalid error", err)
	} else {
		contains(t, "pruned version", err.Error(), "spec.pipelineVersion: Invalid value: 1", `pipeline "pruned" does not keep this version (kept: 2)`)
	}

	// Against the latest version, which may change before the run starts,
	// a parameter the pipeline lacks is a warning.
	warned.reset()
	latest := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "latest"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "retry", Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"counter": counter, "countr": "x"}}}
	if err := kc.Create(ctx, latest); err != nil {
		t.Fatalf("a run against the latest version was refused: %v", err)
	}
	contains(t, "warnings", warned.String(), `spec.parameters[countr]: the pipeline has no parameter "countr"`)
	warned.reset()
	if err := kc.Create(ctx, &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "early"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "later", Executor: v1alpha1.ExecutorLocal}}); err != nil {
		t.Fatalf("a run of a pipeline that does not exist yet was refused: %v", err)
	}
	contains(t, "warnings", warned.String(), `pipeline "later" does not exist yet; the run waits for it`)

	// After creation only cancel may change.
	run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "run"},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: "retry", Executor: v1alpha1.ExecutorLocal, Parameters: map[string]string{"counter": counter}}}
	if err := kc.Create(ctx, run); err != nil {
		t.Fatalf("a valid run was refused: %v", err)
	}
	changes := []struct {
		field  string
		mutate func(*v1alpha1.PipelineRun)
	}{
		{"spec.parameters", func(r *v1alpha1.PipelineRun) { r.Spec.Parameters["greeting"] = "bye" }},
		{"spec.executor", func(r *v1alpha1.PipelineRun) { r.Spec.Executor = v1alpha1.ExecutorPod }},
		{"spec.parallelism", func(r *v1alpha1.PipelineRun) { r.Spec.Parallelism = 2 }},
		{"spec.timeout", func(r *v1alpha1.PipelineRun) { r.Spec.Timeout = &metav1.Duration{Duration: time.Hour} }},
	}
	for _, c := range changes {
		err := retryOnConflict(func() error {
			changed := &v1alpha1.PipelineRun{}
			if err := kc.Get(ctx, client.ObjectKeyFromObject(run), changed); err != nil {
				return err
			}
			c.mutate(changed)
			return kc.Update(ctx, changed)
		})
		if !apierrors.IsInvalid(err) {
			t.Errorf("changing %s: %v, want an Invalid error", c.field, err)
			continue
		}
		// The CRD's rules refuse it before the webhook is asked (they hold
		// without the webhook too); TestWebhookValidatorsDirectly checks
		// the webhook's own refusal.
		contains(t, "changing "+c.field, err.Error(), c.field+": Forbidden: is immutable: a run executes what it was created with")
	}
	err = retryOnConflict(func() error {
		cancelled := &v1alpha1.PipelineRun{}
		if err := kc.Get(ctx, client.ObjectKeyFromObject(run), cancelled); err != nil {
			return err
		}
		cancelled.Spec.Cancel = true
		cancelled.Labels = map[string]string{"cancelled-by": "test"}
		return kc.Update(ctx, cancelled)
	})
	if err != nil {
		t.Fatalf("cancelling was refused: %v", err)
	}
}

// TestWebhookValidatorsDirectly checks what the API server never sends the
// webhook, since the CRD's schema refuses it first.
func TestWebhookValidatorsDirectly(t *testing.T) {
	ctx := context.Background()
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.PipelineSpec{Spec: "x", DAG: "y", MaxVersions: 101}}
	_, err := controller.PipelineValidator{}.ValidateCreate(ctx, p)
	contains(t, "both", fmt.Sprint(err), `Pipeline.pipelines.kfstack.dev "p" is invalid`, "spec.dag: Invalid value", "exactly one of spec and dag", "spec.maxVersions: Invalid value: 101")
	p.Spec = v1alpha1.PipelineSpec{}
	_, err = controller.PipelineValidator{}.ValidateCreate(ctx, p)
	contains(t, "neither", fmt.Sprint(err), "spec.spec: Required value")

	// Content that predates the webhook does not block metadata changes
	// (finalizers, labels), and lowering maxVersions warns what it drops.
	old := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1alpha1.PipelineSpec{DAG: "{name: p, tasks: [{name: a, image: x, command: [x], dependsOn: [b]}]}", MaxVersions: 3}}
	old.Status.Versions = []v1alpha1.PipelineVersion{{Number: 4}, {Number: 5}, {Number: 6}}
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"team": "a"}
	if _, err := (controller.PipelineValidator{}).ValidateUpdate(ctx, old, labelled); err != nil {
		t.Errorf("labelling a pipeline with old invalid content: %v", err)
	}
	fewer := old.DeepCopy()
	fewer.Spec.MaxVersions = 2
	warnings, err := controller.PipelineValidator{}.ValidateUpdate(ctx, old, fewer)
	if err != nil {
		t.Errorf("lowering maxVersions of a pipeline with old invalid content: %v", err)
	}
	contains(t, "warnings", strings.Join(warnings, "\n"), "spec.maxVersions: 2 drops version(s) 4;")
	fixed := old.DeepCopy()
	fixed.Spec.DAG, fixed.Spec.MaxVersions = "{name: p, tasks: [{name: a, image: x, command: [x]}]}", 1
	warnings, err = controller.PipelineValidator{}.ValidateUpdate(ctx, old, fixed)
	if err != nil {
		t.Errorf("fixing the content: %v", err)
	}
	contains(t, "warnings", strings.Join(warnings, "\n"), "spec.maxVersions: 1 drops version(s) 4, 5")

	run := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.PipelineRunSpec{Pipeline: "p", Executor: "ssh", Parallelism: -1, Parameters: map[string]string{" ": "x"}}}
	_, err = controller.PipelineRunValidator{}.ValidateCreate(ctx, run)
	contains(t, "run", fmt.Sprint(err), `spec.executor: Unsupported value: "ssh"`, "spec.parallelism: Invalid value: -1", "spec.parameters: Invalid value")

	// The controller's policy: the local executor only where it allows it,
	// a file:// root of the run's own only under an allowed directory, and
	// a root at all where it has no default.
	shared := controller.PipelineRunValidator{Options: controller.Options{PipelineRoot: "gs://ml/root", AllowedFileRoots: []string{"/data"}}}
	local := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.PipelineRunSpec{Pipeline: "p", Executor: v1alpha1.ExecutorLocal, PipelineRoot: "file:///var/run/secrets"}}
	_, err = shared.ValidateCreate(ctx, local)
	contains(t, "policy", fmt.Sprint(err), "spec.executor: Forbidden: the local executor runs task commands inside the controller's process",
		"--allow-local-executor", `spec.pipelineRoot: Invalid value: "file:///var/run/secrets"`, "/var/run/secrets is not under a directory", "allowed: /data")
	local.Spec.PipelineRoot = "file:///data/../var/run/secrets"
	_, err = shared.ValidateCreate(ctx, local)
	contains(t, "climbing root", fmt.Sprint(err), `spec.pipelineRoot: Invalid value: "file:///data/../var/run/secrets"`, `must not contain empty, "." or ".." elements`)
	_, err = controller.PipelineRunValidator{}.ValidateCreate(ctx, &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.PipelineRunSpec{Pipeline: "p"}})
	contains(t, "no root", fmt.Sprint(err), "spec.pipelineRoot: Required value: the controller has no default pipeline root")
	dev := controller.PipelineRunValidator{Options: controller.Options{AllowLocalExecutor: true, AllowedFileRoots: []string{"/data"}}}
	local.Spec.PipelineRoot = "file:///data/team-a"
	if _, err := dev.ValidateCreate(ctx, local); err != nil {
		t.Errorf("a local run under an allowed root, with the local executor allowed: %v", err)
	}
	cancelled := run.DeepCopy()
	cancelled.Spec.Cancel = true
	if _, err := (controller.PipelineRunValidator{}).ValidateUpdate(ctx, run, cancelled); err != nil {
		t.Errorf("cancelling: %v", err)
	}
	moved := cancelled.DeepCopy()
	moved.Spec.Pipeline, moved.Spec.PipelineVersion, moved.Spec.Cancel = "q", 2, false
	warnings, err = controller.PipelineRunValidator{}.ValidateUpdate(ctx, cancelled, moved)
	contains(t, "moved", fmt.Sprint(err), "spec.pipeline: Forbidden: is immutable", "spec.pipelineVersion: Forbidden: is immutable")
	contains(t, "warnings", strings.Join(warnings, "\n"), "a cancelled run stays cancelled")
}

// registerWebhooks serves the webhooks from this process on 127.0.0.1 with
// a self-signed certificate, and registers them for namespace ns only, so
// that the package's other tests never meet them. The configuration is
// deleted at the end of the test.
func registerWebhooks(ctx context.Context, t *testing.T, ns string, opts controller.Options) {
	t.Helper()
	certDir := t.TempDir()
	caPEM, err := writeServingCert(certDir, net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(controllerConfig, ctrl.Options{
		Scheme:                 k8s.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.SetupWebhooks(mgr, opts); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("webhook manager: %v", err)
		}
	})
	started := mgr.GetWebhookServer().StartedChecker()
	for deadline := time.Now().Add(30 * time.Second); started(nil) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook server did not start: %v", started(nil))
		}
	}
	registerWebhookConfiguration(ctx, t, ns, port, caPEM)
}

// registerWebhookConfiguration registers the webhooks served on
// 127.0.0.1:port for namespace ns only, deletes the configuration at the
// end of the test, and waits until the API server calls them.
func registerWebhookConfiguration(ctx context.Context, t *testing.T, ns string, port int, caPEM []byte) {
	t.Helper()
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	hook := func(name, resource, path string) admissionregistrationv1.ValidatingWebhook {
		url := fmt.Sprintf("https://127.0.0.1:%d%s", port, path)
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{v1alpha1.GroupVersion.Version}, Resources: []string{resource},
				},
			}},
		}
	}
	config := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kfstack-webhook-test-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			hook("pipelines.kfstack.dev", "pipelines", v1alpha1.PipelineWebhookPath),
			hook("pipelineruns.kfstack.dev", "pipelineruns", v1alpha1.PipelineRunWebhookPath),
		},
	}
	if err := k8s.Create(ctx, config); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), config); err != nil {
			t.Errorf("deleting the webhook configuration: %v", err)
		}
	})
	// The API server picks the configuration up asynchronously: wait until
	// a server-side dry run of bad content is refused by the webhook.
	probe := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}, Spec: v1alpha1.PipelineSpec{DAG: strings.Replace(retryDAG, "dependsOn: [flaky]", "dependsOn: [nosuch]", 1)}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "denied the request") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook is not called: dry run gave %v", err)
		}
	}
}

// TestWebhookControllerProcess runs `kfstack-runtime controller
// --webhook-port` as a process: it is ready only once the webhook server
// serves, and the API server's refusals come from it.
func TestWebhookControllerProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := runtimeBinary(t)
	ns := namespace(t)
	certDir := t.TempDir()
	caPEM, err := writeServingCert(certDir, net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	probePort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	controllerProcess(t, bin, "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		"--webhook-port", fmt.Sprint(port), "--webhook-cert-dir", certDir)
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(readyz)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller is not ready: %v", err)
		}
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Fatalf("ready, but the webhook server does not listen: %v", err)
	} else {
		_ = c.Close()
	}
	registerWebhookConfiguration(ctx, t, ns, port, caPEM)
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: v1alpha1.PipelineSpec{DAG: strings.Replace(retryDAG, "dependsOn: [flaky]", "dependsOn: [nosuch]", 1)}}
	err = k8s.Create(ctx, p)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("created (%v), want an Invalid error", err)
	}
	contains(t, "refusal", err.Error(), `admission webhook "pipelines.kfstack.dev" denied the request`, "spec.dag", `unknown task "nosuch"`)
}

// writeServingCert writes a self-signed serving certificate for ip as
// tls.crt and tls.key (the names cert-manager uses) and returns it in PEM,
// the webhook's CA bundle.
func writeServingCert(dir string, ip net.IP) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfstack-runtime-webhook-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{ip},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return certPEM, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitPipelineVersion waits until the pipeline has a version n.
func waitPipelineVersion(ctx context.Context, t *testing.T, ns, name string, n int32) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p := &v1alpha1.Pipeline{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			t.Fatal(err)
		}
		if p.Status.Version(n) != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline %s has no version %d: %+v", name, n, p.Status)
		}
	}
}

// retryOnConflict calls f again while it meets a conflict: the controller
// updates the objects' status meanwhile.
func retryOnConflict(f func() error) error {
	for i := 0; ; i++ {
		err := f()
		if !apierrors.IsConflict(err) || i == 20 {
			return err
		}
	}
}

// warnings records the API server's warnings.
type warnings struct {
	mu   sync.Mutex
	text []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text = append(w.text, text)
}

func (w *warnings) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text = nil
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text, "\n")
}
