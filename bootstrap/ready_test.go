package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestWebhookReadiness: a webhook is ready only when its configuration
// carries a CA bundle and its Service has a ready endpoint; before that,
// objects it admits would be refused.
func TestWebhookReadiness(t *testing.T) {
	ctx := context.Background()
	in := newTestInstaller(t)
	ns := "webhook-readiness"
	if err := in.ensureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	config := func(caBundle []byte) *unstructured.Unstructured {
		whc := &admissionv1.ValidatingWebhookConfiguration{
			TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
			ObjectMeta: metav1.ObjectMeta{Name: "hook"},
			Webhooks: []admissionv1.ValidatingWebhook{{
				Name:                    "hook.example.com",
				ClientConfig:            admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: ns, Name: "hook"}, CABundle: caBundle},
				SideEffects:             ptr.To(admissionv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1"},
			}},
		}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(whc)
		if err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: obj}
	}
	check := func(obj *unstructured.Unstructured, want string) {
		t.Helper()
		got, err := in.notReady(ctx, obj, true)
		if err != nil {
			t.Fatal(err)
		}
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("not ready because %q, want %q", got, want)
		}
	}
	check(config(nil), "webhook hook.example.com has no CA bundle yet")
	check(config([]byte("-----BEGIN CERTIFICATE-----")), "service webhook-readiness/hook has no ready endpoint")

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "hook-1", Labels: map[string]string{"kubernetes.io/service-name": "hook"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}},
	}
	created, err := cluster.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check(config([]byte("-----BEGIN CERTIFICATE-----")), "has no ready endpoint")

	created.Endpoints[0].Conditions.Ready = ptr.To(true)
	if _, err := cluster.Client.DiscoveryV1().EndpointSlices(ns).Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	check(config([]byte("-----BEGIN CERTIFICATE-----")), "")

	// With wait_for_webhooks off (KWOK), webhooks are not waited for.
	if got, err := in.notReady(ctx, config(nil), false); err != nil || got != "" {
		t.Errorf("with webhooks off: %q, %v", got, err)
	}
}

// TestIssuerReadiness: a cert-manager issuer is ready when cert-manager
// marks it Ready, which is waited for only where its webhooks are (where
// they are not, under KWOK, no cert-manager controller runs either).
func TestIssuerReadiness(t *testing.T) {
	in := newTestInstaller(t)
	issuer := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
		"metadata": map[string]any{"name": "selfsigned"}, "spec": map[string]any{"selfSigned": map[string]any{}},
	}}
	for _, tc := range []struct {
		conditions []any
		webhooks   bool
		want       string
	}{
		{nil, true, "not Ready"},
		{nil, false, ""},
		{[]any{map[string]any{"type": "Ready", "status": "False"}}, true, "not Ready"},
		{[]any{map[string]any{"type": "Ready", "status": "True"}}, true, ""},
	} {
		obj := issuer.DeepCopy()
		if tc.conditions != nil {
			obj.Object["status"] = map[string]any{"conditions": tc.conditions}
		}
		why, err := in.notReady(context.Background(), obj, tc.webhooks)
		if err != nil || why != tc.want {
			t.Errorf("conditions %v, webhooks %v: notReady = %q, %v; want %q", tc.conditions, tc.webhooks, why, err, tc.want)
		}
	}
}

// TestWaitGoneDeletesWhatCameBack: an object deleted by an uninstall that
// a controller creates again (the ClusterRole aggregation controller
// applies an aggregated role it still sees in its cache) is deleted
// again, not waited for until the timeout.
func TestWaitGoneDeletesWhatCameBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := newTestInstaller(t)
	roles := cluster.Client.RbacV1().ClusterRoles()
	// As the aggregation controller leaves it: a name and no rules.
	if _, err := roles.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kfstack-test-came-back"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := &unstructured.Unstructured{}
	ref.SetAPIVersion("rbac.authorization.k8s.io/v1")
	ref.SetKind("ClusterRole")
	ref.SetName("kfstack-test-came-back")
	if err := in.waitGone(ctx, []*unstructured.Unstructured{ref}); err != nil {
		t.Fatalf("waiting for the deletion: %v", err)
	}
	if _, err := roles.Get(ctx, ref.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the role is still there: %v", err)
	}
}

// TestWaitNamesWhatItWaitsForAtTheDeadline: a wait that times out names
// what it waited for, from its last whole pass, even when the deadline
// ends a pass half way (it once said "timed out waiting for: " and
// nothing more), and names every object when no pass was whole.
func TestWaitNamesWhatItWaitsForAtTheDeadline(t *testing.T) {
	in := newTestInstaller(t)
	missing := &unstructured.Unstructured{}
	missing.SetAPIVersion("v1")
	missing.SetKind("ConfigMap")
	missing.SetNamespace("default")
	missing.SetName("kfstack-test-never-made")

	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	err := in.waitReady(ctx, []*unstructured.Unstructured{missing}, false)
	if err == nil || !strings.Contains(err.Error(), "timed out waiting for: ConfigMap default/kfstack-test-never-made: not found") {
		t.Errorf("after whole passes: %v", err)
	}

	done, cancel := context.WithCancel(context.Background())
	cancel()
	err = in.waitReady(done, []*unstructured.Unstructured{missing}, false)
	if err == nil || !strings.Contains(err.Error(), "ConfigMap default/kfstack-test-never-made: not checked before the deadline") {
		t.Errorf("with no whole pass: %v", err)
	}
}
