package runtime

import (
	"context"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// TestWebhookObjects checks what webhooks = true renders: the controller
// serves the webhooks with the Certificate's Secret, the certificate
// covers the Service's names, cert-manager injects its CA, and the
// configuration fails closed on Pipelines and PipelineRuns only.
func TestWebhookObjects(t *testing.T) {
	const ns = "kf-rt"
	c, err := Component(Options{Version: "v1", Namespace: ns, Replicas: 2, Webhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.WaitForWebhooks {
		t.Error("readiness does not wait for the webhooks")
	}
	objects := map[string]*unstructured.Unstructured{}
	for _, o := range c.Manifests[0].Objects {
		objects[o.GetKind()+"/"+o.GetName()] = o
	}

	var deploy appsv1.Deployment
	fromUnstructured(t, objects["Deployment/"+ControllerName], &deploy)
	ctr := deploy.Spec.Template.Spec.Containers[0]
	for _, arg := range []string{"--webhook-port=9443", "--webhook-cert-dir=" + WebhookCertDir} {
		if !slices.Contains(ctr.Args, arg) {
			t.Errorf("args %v lack %s", ctr.Args, arg)
		}
	}
	if !slices.ContainsFunc(ctr.Ports, func(p corev1.ContainerPort) bool { return p.Name == "webhook" && p.ContainerPort == WebhookPort }) {
		t.Errorf("ports %+v lack the webhook port", ctr.Ports)
	}
	if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "webhook-certs" && m.MountPath == WebhookCertDir && m.ReadOnly
	}) {
		t.Errorf("mounts %+v lack the certificate", ctr.VolumeMounts)
	}
	if !slices.ContainsFunc(deploy.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == "webhook-certs" && v.Secret != nil && v.Secret.SecretName == WebhookSecretName
	}) {
		t.Errorf("volumes %+v lack the certificate's Secret", deploy.Spec.Template.Spec.Volumes)
	}

	var svc corev1.Service
	fromUnstructured(t, objects["Service/"+WebhookServiceName], &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.StrVal != "webhook" || svc.Spec.Selector["app.kubernetes.io/component"] != "controller" {
		t.Errorf("webhook Service = %+v", svc.Spec)
	}

	issuer := objects["Issuer/"+WebhookIssuerName]
	if issuer == nil || issuer.GetNamespace() != ns {
		t.Fatalf("no Issuer %s in %s: %v", WebhookIssuerName, ns, issuer)
	}
	if _, selfSigned, _ := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); !selfSigned {
		t.Errorf("the Issuer is not self-signed: %v", issuer.Object["spec"])
	}
	cert := objects["Certificate/"+WebhookCertificateName]
	if cert == nil || cert.GetNamespace() != ns {
		t.Fatalf("no Certificate %s in %s", WebhookCertificateName, ns)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	want := []string{"kfstack-runtime-webhook.kf-rt", "kfstack-runtime-webhook.kf-rt.svc", "kfstack-runtime-webhook.kf-rt.svc.cluster.local"}
	if !slices.Equal(dnsNames, want) {
		t.Errorf("dnsNames = %v, want %v", dnsNames, want)
	}
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	issuerRef, _, _ := unstructured.NestedStringMap(cert.Object, "spec", "issuerRef")
	if secret != WebhookSecretName || issuerRef["name"] != WebhookIssuerName || issuerRef["kind"] != "Issuer" {
		t.Errorf("Certificate spec = %v", cert.Object["spec"])
	}

	// The Schedule webhook asks whether a schedule's author may create
	// runs: the controller may create SubjectAccessReviews, with webhooks
	// only.
	var role rbacv1.ClusterRole
	fromUnstructured(t, objects["ClusterRole/"+ClusterRoleName(ns)], &role)
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.Resources, "subjectaccessreviews") && slices.Equal(r.Verbs, []string{"create"})
	}) {
		t.Errorf("the controller's ClusterRole lacks subjectaccessreviews: %+v", role.Rules)
	}

	var config admissionregistrationv1.ValidatingWebhookConfiguration
	fromUnstructured(t, objects["ValidatingWebhookConfiguration/kfstack-runtime-kf-rt"], &config)
	if got := config.Annotations["cert-manager.io/inject-ca-from"]; got != "kf-rt/"+WebhookCertificateName {
		t.Errorf("inject-ca-from = %q", got)
	}
	paths := map[string]string{PipelineWebhookName: v1alpha1.PipelineWebhookPath, PipelineRunWebhookName: v1alpha1.PipelineRunWebhookPath, ScheduleWebhookName: v1alpha1.ScheduleWebhookPath, MPIJobWebhookName: kubeflow.WebhookPath}
	resources := map[string]string{PipelineWebhookName: "pipelines", PipelineRunWebhookName: "pipelineruns", ScheduleWebhookName: "schedules", MPIJobWebhookName: "mpijobs"}
	groups := map[string]string{PipelineWebhookName: v1alpha1.GroupVersion.Group, PipelineRunWebhookName: v1alpha1.GroupVersion.Group, ScheduleWebhookName: v1alpha1.GroupVersion.Group, MPIJobWebhookName: kubeflow.GroupVersion.Group}
	// The runtime's own kinds and, MPI jobs being on by default, MPIJob.
	if len(config.Webhooks) != 4 {
		t.Fatalf("webhooks = %+v", config.Webhooks)
	}
	for _, h := range config.Webhooks {
		ref := h.ClientConfig.Service
		if ref == nil || ref.Namespace != ns || ref.Name != WebhookServiceName || ref.Path == nil || *ref.Path != paths[h.Name] || len(h.ClientConfig.CABundle) != 0 {
			t.Errorf("%s: clientConfig = %+v", h.Name, h.ClientConfig)
		}
		if h.FailurePolicy == nil || *h.FailurePolicy != admissionregistrationv1.Fail || h.SideEffects == nil || *h.SideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("%s: failurePolicy %v, sideEffects %v", h.Name, h.FailurePolicy, h.SideEffects)
		}
		if len(h.Rules) != 1 || !slices.Equal(h.Rules[0].APIGroups, []string{groups[h.Name]}) || !slices.Equal(h.Rules[0].Resources, []string{resources[h.Name]}) ||
			!slices.Equal(h.Rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) {
			t.Errorf("%s: rules = %+v", h.Name, h.Rules)
		}
	}

	// The API server accepts the configuration as rendered (a dry run
	// leaves nothing behind for the other tests).
	vwc := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	if _, err := dynamic.NewForConfigOrDie(cluster.Config).Resource(vwc).Create(context.Background(), objects["ValidatingWebhookConfiguration/kfstack-runtime-kf-rt"], metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("the API server refuses the webhook configuration: %v", err)
	}

	// Off (the default), none of it is there: the same objects less the
	// Service, Issuer, Certificate and configuration.
	on := len(c.Manifests[0].Objects)
	c, err = Component(Options{Version: "v1", Namespace: ns, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.WaitForWebhooks || len(c.Manifests[0].Objects) != on-4 {
		t.Errorf("without webhooks: wait %v, %d objects", c.WaitForWebhooks, len(c.Manifests[0].Objects))
	}
	for _, o := range c.Manifests[0].Objects {
		if k := o.GetKind(); k == "ValidatingWebhookConfiguration" || k == "Certificate" || k == "Issuer" || o.GetName() == WebhookServiceName {
			t.Errorf("without webhooks: %s %s", k, o.GetName())
		}
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			fromUnstructured(t, o, &d)
			if args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); strings.Contains(args, "webhook") || len(d.Spec.Template.Spec.Volumes) != 0 {
				t.Errorf("without webhooks the controller serves them: %s", args)
			}
		}
	}

	if _, err := Component(Options{Version: "v1", Replicas: 0, Webhooks: true}); err == nil || !strings.Contains(err.Error(), "webhooks: the controller serves the admission webhooks, so they need replicas of at least 1") {
		t.Errorf("webhooks with no replicas: %v", err)
	}
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if u == nil {
		t.Fatalf("no object for %T", into)
	}
	if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatal(err)
	}
}
