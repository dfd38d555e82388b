package runtime

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// The admission webhooks' objects (Options.Webhooks).
const (
	// WebhookServiceName names the Service the API server calls the
	// webhooks through; the certificate is issued for its DNS names.
	WebhookServiceName = "kfstack-runtime-webhook"
	// WebhookPort is the controller's webhook server port; the Service
	// listens on 443.
	WebhookPort = 9443
	// WebhookIssuerName names the self-signed cert-manager Issuer in the
	// runtime's namespace.
	WebhookIssuerName = "kfstack-runtime-selfsigned"
	// WebhookCertificateName names the serving Certificate; cert-manager's
	// CA injector copies its CA into the webhook configuration.
	WebhookCertificateName = "kfstack-runtime-webhook"
	// WebhookSecretName is the Secret cert-manager writes the key pair to,
	// mounted into the controller at WebhookCertDir.
	WebhookSecretName = "kfstack-runtime-webhook-tls"
	// WebhookCertDir is where the controller reads tls.crt and tls.key.
	WebhookCertDir = "/etc/kfstack/webhook-certs"
	// PipelineWebhookName and PipelineRunWebhookName name the webhooks,
	// as the API server's refusals show them.
	PipelineWebhookName    = "pipelines.kfstack.dev"
	PipelineRunWebhookName = "pipelineruns.kfstack.dev"
)

// WebhookConfigurationName names the ValidatingWebhookConfiguration, which
// is cluster-wide: one per namespace the runtime is installed in.
func WebhookConfigurationName(namespace string) string {
	return "kfstack-runtime-" + namespace
}

// WebhookDNSNames are the names the API server may call the webhook
// Service by; the serving certificate covers them all.
func WebhookDNSNames(namespace string) []string {
	svc := WebhookServiceName + "." + namespace
	return []string{svc, svc + ".svc", svc + ".svc.cluster.local"}
}

// webhookArgs are the controller's flags that serve the webhooks.
func webhookArgs() []string {
	return []string{fmt.Sprintf("--webhook-port=%d", WebhookPort), "--webhook-cert-dir=" + WebhookCertDir}
}

// addWebhookServer gives the controller's pods the webhook port and the
// serving certificate's Secret.
func addWebhookServer(d *appsv1.Deployment) {
	spec := &d.Spec.Template.Spec
	c := &spec.Containers[0]
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: "webhook", ContainerPort: WebhookPort, Protocol: corev1.ProtocolTCP})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "webhook-certs", MountPath: WebhookCertDir, ReadOnly: true})
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "webhook-certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: WebhookSecretName}}})
}

// webhookObjects are the webhook's Service, configuration, and the
// cert-manager Issuer and Certificate that serve it.
func webhookObjects(ns string, common map[string]string) (typed []kruntime.Object, certManager []*unstructured.Unstructured) {
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(10)
	hook := func(name, resource, path string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name: name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: WebhookServiceName, Path: ptr(path), Port: ptr(int32(443))},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{v1alpha1.GroupVersion.Group}, APIVersions: []string{v1alpha1.GroupVersion.Version},
					Resources: []string{resource}, Scope: &scope,
				},
			}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	typed = []kruntime.Object{
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: WebhookServiceName, Namespace: ns, Labels: common},
			Spec: corev1.ServiceSpec{
				Selector: selector(),
				Ports:    []corev1.ServicePort{{Name: "webhook", Port: 443, TargetPort: intstr.FromString("webhook"), Protocol: corev1.ProtocolTCP}},
			},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
			ObjectMeta: metav1.ObjectMeta{
				Name: WebhookConfigurationName(ns), Labels: common,
				Annotations: map[string]string{"cert-manager.io/inject-ca-from": ns + "/" + WebhookCertificateName},
			},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{
				hook(PipelineWebhookName, "pipelines", v1alpha1.PipelineWebhookPath),
				hook(PipelineRunWebhookName, "pipelineruns", v1alpha1.PipelineRunWebhookPath),
			},
		},
	}
	labels := map[string]any{}
	for k, v := range common {
		labels[k] = v
	}
	dnsNames := make([]any, 0, 3)
	for _, n := range WebhookDNSNames(ns) {
		dnsNames = append(dnsNames, n)
	}
	certManager = []*unstructured.Unstructured{
		{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
			"metadata": map[string]any{"name": WebhookIssuerName, "namespace": ns, "labels": labels},
			"spec":     map[string]any{"selfSigned": map[string]any{}},
		}},
		{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": WebhookCertificateName, "namespace": ns, "labels": labels},
			"spec": map[string]any{
				"secretName": WebhookSecretName,
				"dnsNames":   dnsNames,
				"issuerRef":  map[string]any{"name": WebhookIssuerName, "kind": "Issuer", "group": "cert-manager.io"},
				"usages":     []any{"digital signature", "key encipherment", "server auth"},
			},
		}},
	}
	return typed, certManager
}
