package schedules_test

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller/schedules"
)

// TestWebhook serves the Schedule webhook from this process for the
// test's namespace and checks what kubectl would see: bad input refused
// at the field, a schedule of a pipeline that does not exist or with
// parameters it does not take refused, a good one admitted, and a user
// who may not create PipelineRuns unable to make a schedule create them.
func TestWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t)
	serveWebhook(ctx, t, ns)
	g := newGates(t)

	refused := []struct {
		name   string
		mutate func(*v1alpha1.Schedule)
		want   []string
	}{
		{"bad hour", func(s *v1alpha1.Schedule) { s.Spec.Cron = []string{"0 24 * * *"} },
			[]string{`admission webhook "schedules.kfstack.dev" denied the request`, `spec.cron[0]: Invalid value: "0 24 * * *": hour field "24"`}},
		{"six fields", func(s *v1alpha1.Schedule) { s.Spec.Cron = []string{"0 0 * * * *"} }, []string{"spec.cron[0]", "needs cronSeconds: true"}},
		{"unknown zone", func(s *v1alpha1.Schedule) { s.Spec.TimeZone = "Europe/Atlantis" }, []string{"spec.timeZone", "unknown time zone"}},
		{"short interval", func(s *v1alpha1.Schedule) {
			s.Spec.Cron, s.Spec.Interval = nil, &metav1.Duration{Duration: time.Millisecond}
		}, []string{"spec.interval", "at least 1s"}},
		{"unknown pipeline", func(s *v1alpha1.Schedule) { s.Spec.Run.Pipeline = "nosuch" }, []string{`spec.run.pipeline: Not found: "nosuch"`}},
		{"undeclared parameter", func(s *v1alpha1.Schedule) { s.Spec.Run.Parameters["lr"] = "0.1" }, []string{"spec.run.parameters[lr]", `the pipeline has no parameter "lr"`}},
		{"unknown macro", func(s *v1alpha1.Schedule) { s.Spec.Run.Parameters["note"] = "[[RunID]]" }, []string{"spec.run.parameters[note]", "unknown macro [[RunID]]"}},
		{"a version not kept", func(s *v1alpha1.Schedule) { s.Spec.Run.PipelineVersion = 9 }, []string{"spec.run.pipelineVersion", "has no version 9"}},
	}
	for i, c := range refused {
		s := newSchedule(ns, fmt.Sprintf("bad-%d", i), g, c.mutate)
		err := k8s.Create(ctx, s)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: %v, want Invalid", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", c.name, err, w)
			}
		}
	}

	// Plain YAML with the optional fields left out, as kubectl applies it:
	// admitted, with the CRD's defaults.
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(`
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: Schedule
metadata:
  name: minimal
  namespace: %s
spec:
  cron: ["0 2 * * *"]
  run:
    pipeline: gated
    parameters: {gate: /nowhere}
`, ns)), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, &u); err != nil {
		t.Fatalf("minimal YAML: %v", err)
	}
	minimal := get(t, ns, "minimal")
	if minimal.Spec.TimeZone != "UTC" || minimal.Spec.ConcurrencyPolicy != v1alpha1.ConcurrencyAllow || minimal.Spec.Catchup != v1alpha1.CatchupLatest ||
		*minimal.Spec.SuccessfulRunsHistoryLimit != 10 || minimal.Spec.Run.Executor != v1alpha1.ExecutorPod {
		t.Errorf("defaults: %+v", minimal.Spec)
	}

	// A change to bad input is refused; suspending a schedule whose
	// pipeline went away is not.
	err := updateErr(ns, "minimal", func(s *v1alpha1.Schedule) { s.Spec.Cron = []string{"61 * * * *"} })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.cron[0]: Invalid value: "61 * * * *": minute field "61"`) {
		t.Errorf("update to a bad cron: %v", err)
	}
	if err := k8s.Delete(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gated"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		err := updateErr(ns, "minimal", func(s *v1alpha1.Schedule) { s.Spec.Suspend = true })
		return err == nil, fmt.Sprintf("suspending: %v", err)
	})

	// Who may set what a schedule runs.
	onlySchedules := []rbacv1.PolicyRule{
		{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"schedules", "pipelines"}, Verbs: []string{"get", "list", "create", "update"}},
	}
	grant(ctx, t, ns, "mallory", onlySchedules)
	grant(ctx, t, ns, "alice", append(onlySchedules, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"pipelineruns"}, Verbs: []string{"create"},
	}))
	if err := k8s.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gated"}, Spec: v1alpha1.PipelineSpec{DAG: gatedDAG}}); err != nil {
		t.Fatal(err)
	}
	err = as(t, "mallory").Create(ctx, newSchedule(ns, "sneaky", g))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.run: Forbidden: mallory may not create PipelineRuns in namespace "+ns) {
		t.Errorf("mallory: %v, want Forbidden at spec.run", err)
	}
	if err := as(t, "alice").Create(ctx, newSchedule(ns, "allowed", g)); err != nil {
		t.Errorf("alice: %v", err)
	}
	// Mallory cannot repoint alice's schedule either, but may leave its
	// spec alone.
	err = asUpdate(t, "mallory", ns, "allowed", func(s *v1alpha1.Schedule) { s.Spec.Run.Parameters["note"] = "mine" })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("mallory changing alice's schedule: %v", err)
	}
	if err := asUpdate(t, "mallory", ns, "allowed", func(s *v1alpha1.Schedule) { s.Labels = map[string]string{"seen": "yes"} }); err != nil {
		t.Errorf("mallory labelling a schedule: %v", err)
	}
}

func updateErr(ns, name string, mutate func(*v1alpha1.Schedule)) error {
	s := &v1alpha1.Schedule{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return err
	}
	mutate(s)
	return k8s.Update(context.Background(), s)
}

// grant gives user the rules in ns.
func grant(ctx context.Context, t *testing.T, ns, user string, rules []rbacv1.PolicyRule) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user}, Rules: rules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// as is a client that acts as user.
func as(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func asUpdate(t *testing.T, user, ns, name string, mutate func(*v1alpha1.Schedule)) error {
	s := get(t, ns, name)
	mutate(s)
	return as(t, user).Update(context.Background(), s)
}

// serveWebhook serves the Schedule webhook on 127.0.0.1 and registers it
// for namespace ns, until the end of the test.
func serveWebhook(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	certDir := t.TempDir()
	caPEM := writeServingCert(t, certDir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	mgr, err := ctrl.NewManager(controllerConfig, ctrl.Options{ // as the controller's ServiceAccount
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller:    config.Controller{SkipNameValidation: ptr.To(true)},
		WebhookServer: webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := schedules.SetupWebhook(mgr); err != nil {
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
	eventually(t, 30*time.Second, func() (bool, string) {
		err := started(nil)
		return err == nil, fmt.Sprint(err)
	})
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, v1alpha1.ScheduleWebhookPath)
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	hook := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "kfstack-schedule-test-" + ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "schedules.kfstack.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          ptr.To(int32(10)),
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{"v1alpha1"}, Resources: []string{"schedules"}},
			}},
		}},
	}
	if err := k8s.Create(ctx, hook); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), hook) })
	// The API server picks the configuration up asynchronously.
	probe := newSchedule(ns, "probe", "", func(s *v1alpha1.Schedule) { s.Spec.Cron = []string{"0 24 * * *"} })
	eventually(t, 30*time.Second, func() (bool, string) {
		err := k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "denied the request"), fmt.Sprintf("the webhook is not called: %v", err)
	})
}

// writeServingCert writes a self-signed certificate for 127.0.0.1 as
// tls.crt and tls.key and returns it (the CA bundle).
func writeServingCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfstack-schedule-webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}
