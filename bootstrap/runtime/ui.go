package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// UIName names the UI's Deployment, ServiceAccount, Secret, Service and
// VirtualService (its ClusterRole and binding add the namespace).
const UIName = "kfstack-runtime-ui"

// UIPort is the port the UI listens on (its Service's target port) and
// UIProbePort the port of its probes.
const (
	UIPort      = 8082
	UIProbePort = 8083
	// uiSecretDir is where the UI's Secret is mounted.
	uiSecretDir = "/etc/kfstack/ui"
)

// UIClusterRoleName names the UI's ClusterRole and ClusterRoleBinding.
func UIClusterRoleName(namespace string) string {
	return UIName + "-" + namespace
}

// UIOptions configure the runtime's web UI (Options.UI): a Deployment of
// `kfstack-runtime ui`, apart from the controller, with its own service
// account and least-privilege ClusterRole (UIRules).
type UIOptions struct {
	// Replicas of the UI (default 1; 0 stops it).
	Replicas int32
	// Auth is how users are identified: header (the gateway's identity
	// header after Dex) or oidc (the UI signs users in against Dex). The
	// UI's third mode, none (a fixed user), is for a UI on one's own
	// machine only and is refused here.
	Auth string
	// UserHeader, UserPrefix and GroupsHeader describe the gateway's
	// identity headers (Auth header).
	UserHeader, UserPrefix, GroupsHeader string
	// TrustedProxies are the gateway's addresses (Auth header).
	TrustedProxies []string
	// ProxySecret is the shared secret the gateway sends (Auth header);
	// the VirtualService sets it on the requests it routes.
	ProxySecret string
	// OIDC configures Auth oidc.
	OIDC *UIOIDC
	// BasePath is the path the UI is served under ("/" by default).
	BasePath string
	// AllowedPipelineRoots are more roots whose artifacts the UI may read
	// (besides Options.PipelineRoot).
	AllowedPipelineRoots []string
	// ServiceAccountAnnotations annotate the UI's ServiceAccount, such as
	// GKE Workload Identity's, so it may read the artifact store.
	ServiceAccountAnnotations map[string]string
	// VirtualService exposes the UI on the Istio gateway; nil for none.
	VirtualService *UIVirtualService
}

// UIOIDC is the UI's OpenID Connect client (Dex's).
type UIOIDC struct {
	Issuer, ClientID, ClientSecret, RedirectURL string
	UsernameClaim, GroupsClaim                  string
}

// UIVirtualService routes the Istio gateway's requests for BasePath to
// the UI.
type UIVirtualService struct {
	// Gateway is the Istio Gateway, namespace/name (Kubeflow's
	// kubeflow/kubeflow-gateway).
	Gateway string
	// Hosts the route applies to ("*" when empty).
	Hosts []string
}

// Auth modes of the UI.
var uiAuthModes = []string{"header", "oidc"}

// CheckUI reports UI options the UI would refuse, naming the setting.
func CheckUI(u *UIOptions) error {
	if u == nil {
		return nil
	}
	var errs []error
	if u.Replicas < 0 {
		errs = append(errs, errors.New("replicas must not be negative"))
	}
	if u.BasePath != "" && (!strings.HasPrefix(u.BasePath, "/") || !strings.HasSuffix(u.BasePath, "/") || strings.Contains(u.BasePath, "//")) {
		errs = append(errs, fmt.Errorf("base_path %q must start and end with /", u.BasePath))
	}
	for _, p := range u.TrustedProxies {
		if !strings.Contains(p, "/") {
			if net.ParseIP(p) == nil {
				errs = append(errs, fmt.Errorf("trusted_proxies: %q is not an address or a network", p))
			}
		} else if _, _, err := net.ParseCIDR(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies: %q is not an address or a network", p))
		}
	}
	if u.ProxySecret != "" && len(u.ProxySecret) < 16 {
		errs = append(errs, errors.New("proxy_secret must be at least 16 characters"))
	}
	for _, r := range u.AllowedPipelineRoots {
		if err := CheckPipelineRoot(r); err != nil {
			errs = append(errs, fmt.Errorf("allowed_pipeline_roots: %w", err))
		}
	}
	switch u.Auth {
	case "header":
		if len(u.TrustedProxies) == 0 && u.ProxySecret == "" {
			errs = append(errs, errors.New("auth \"header\" trusts the identity header only from the gateway: set proxy_secret (which the VirtualService sends) or trusted_proxies"))
		}
	case "oidc":
		o := u.OIDC
		if o == nil || o.Issuer == "" || o.ClientID == "" || o.ClientSecret == "" || o.RedirectURL == "" {
			errs = append(errs, errors.New("auth \"oidc\" needs oidc.issuer, oidc.client_id, oidc.client_secret and oidc.redirect_url"))
		} else if !strings.HasSuffix(o.RedirectURL, "/auth/callback") {
			errs = append(errs, fmt.Errorf("oidc.redirect_url %q must end in /auth/callback", o.RedirectURL))
		}
	case "none":
		errs = append(errs, errors.New("auth \"none\" (no sign-in) is only for a UI on your own machine (kfstack-runtime ui --auth=none on 127.0.0.1, as make demo runs it): in the cluster, use header or oidc"))
	default:
		errs = append(errs, fmt.Errorf("auth %q must be one of %s", u.Auth, strings.Join(uiAuthModes, ", ")))
	}
	if vs := u.VirtualService; vs != nil {
		if ns, name, ok := strings.Cut(vs.Gateway, "/"); !ok || ns == "" || name == "" {
			errs = append(errs, fmt.Errorf("virtual_service.gateway %q must be namespace/name", vs.Gateway))
		}
	}
	return errors.Join(errs...)
}

// UIRules are the UI's cluster-wide permissions, exactly what runtime/ui
// uses: it reads the runtime's kinds, task pods and namespaces (its
// informers), asks the API server's authoriser about its users
// (SubjectAccessReviews), and makes the changes its actions make once the
// authoriser said the user may make them: create runs, cancel them
// (patch), archive experiments (patch, or create one that has no object
// yet). It cannot create pods, read secrets, read logs through the API
// (logs come from the artifact store), or change a status.
func UIRules() []rbacv1.PolicyRule {
	group := v1alpha1.GroupVersion.Group
	return []rbacv1.PolicyRule{
		{APIGroups: []string{group}, Resources: []string{"pipelines", "pipelineruns", "experiments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{group}, Resources: []string{"pipelineruns", "experiments"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
		// The content of pipeline versions (runtime/api/versions), read by
		// name once the user may read the pipeline.
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
}

// uiSelector selects the UI's pods.
func uiSelector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "kfstack-runtime", "app.kubernetes.io/component": "ui"}
}

// UIArgs are the UI's command-line arguments.
func UIArgs(o Options) []string {
	u := o.UI
	args := []string{"ui", fmt.Sprintf("--bind-address=:%d", UIPort), fmt.Sprintf("--health-probe-bind-address=:%d", UIProbePort), "--auth=" + u.Auth}
	if o.PipelineRoot != "" {
		args = append(args, "--pipeline-root="+o.PipelineRoot)
	}
	for _, r := range u.AllowedPipelineRoots {
		args = append(args, "--allowed-pipeline-root="+r)
	}
	if u.BasePath != "" && u.BasePath != "/" {
		args = append(args, "--base-path="+u.BasePath)
	}
	switch u.Auth {
	case "header":
		if u.UserHeader != "" {
			args = append(args, "--user-header="+u.UserHeader)
		}
		if u.UserPrefix != "" {
			args = append(args, "--user-prefix="+u.UserPrefix)
		}
		if u.GroupsHeader != "" {
			args = append(args, "--groups-header="+u.GroupsHeader)
		}
		if len(u.TrustedProxies) > 0 {
			args = append(args, "--trusted-proxies="+strings.Join(u.TrustedProxies, ","))
		}
		if u.ProxySecret != "" {
			args = append(args, "--proxy-secret-file="+uiSecretDir+"/proxy-secret")
		}
	case "oidc":
		if o := u.OIDC; o != nil {
			args = append(args, "--oidc-issuer="+o.Issuer, "--oidc-client-id="+o.ClientID, "--oidc-redirect-url="+o.RedirectURL,
				"--oidc-client-secret-file="+uiSecretDir+"/oidc-client-secret")
			if o.UsernameClaim != "" {
				args = append(args, "--oidc-username-claim="+o.UsernameClaim)
			}
			if o.GroupsClaim != "" {
				args = append(args, "--oidc-groups-claim="+o.GroupsClaim)
			}
		}
	}
	return args
}

// ParseUIArgs reads back the UI options that UIArgs puts in its arguments
// (secrets excepted): what a UI Deployment edited out of band runs with.
func ParseUIArgs(args []string) UIOptions {
	var u UIOptions
	for _, arg := range args {
		name, value, _ := strings.Cut(arg, "=")
		switch name {
		case "--auth":
			u.Auth = value
		case "--user-header":
			u.UserHeader = value
		case "--user-prefix":
			u.UserPrefix = value
		case "--groups-header":
			u.GroupsHeader = value
		case "--trusted-proxies":
			u.TrustedProxies = strings.Split(value, ",")
		case "--base-path":
			u.BasePath = value
		case "--allowed-pipeline-root":
			u.AllowedPipelineRoots = append(u.AllowedPipelineRoots, value)
		case "--oidc-issuer", "--oidc-client-id", "--oidc-redirect-url", "--oidc-username-claim", "--oidc-groups-claim":
			if u.OIDC == nil {
				u.OIDC = &UIOIDC{}
			}
			switch name {
			case "--oidc-issuer":
				u.OIDC.Issuer = value
			case "--oidc-client-id":
				u.OIDC.ClientID = value
			case "--oidc-redirect-url":
				u.OIDC.RedirectURL = value
			case "--oidc-username-claim":
				u.OIDC.UsernameClaim = value
			case "--oidc-groups-claim":
				u.OIDC.GroupsClaim = value
			}
		}
	}
	return u
}

// uiObjects are the UI's ServiceAccount, RBAC, Secret, Deployment and
// Service, and its VirtualService when the UI is exposed on the gateway.
func uiObjects(o Options, image string, common map[string]string) ([]kruntime.Object, []*unstructured.Unstructured) {
	u := o.UI
	ns := o.Namespace
	meta := metav1.ObjectMeta{Name: UIName, Namespace: ns, Labels: common}
	yes, no := true, false
	uid := int64(65532)
	replicas := u.Replicas
	secret := map[string]string{}
	if u.Auth == "header" && u.ProxySecret != "" {
		secret["proxy-secret"] = u.ProxySecret
	}
	if u.Auth == "oidc" && u.OIDC != nil && u.OIDC.ClientSecret != "" {
		secret["oidc-client-secret"] = u.OIDC.ClientSecret
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("health")}}, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3}
	}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta}
	if len(u.ServiceAccountAnnotations) > 0 {
		sa.Annotations = u.ServiceAccountAnnotations
	}
	container := corev1.Container{
		Name:    "ui",
		Image:   image,
		Command: []string{v1alpha1.RuntimeBinaryPath},
		Args:    UIArgs(o),
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: UIPort, Protocol: corev1.ProtocolTCP},
			{Name: "health", ContainerPort: UIProbePort, Protocol: corev1.ProtocolTCP},
		},
		LivenessProbe:  probe("/healthz"),
		ReadinessProbe: probe("/readyz"),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("50m"), corev1.ResourceMemory: mustQuantity("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQuantity("1Gi")},
		},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
	}
	var volumes []corev1.Volume
	if len(secret) > 0 {
		container.VolumeMounts = []corev1.VolumeMount{{Name: "ui-secret", MountPath: uiSecretDir, ReadOnly: true}}
		volumes = []corev1.Volume{{Name: "ui-secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: UIName}}}}
	}
	podLabels := withLabels(common, uiSelector())
	typed := []kruntime.Object{
		sa,
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: UIClusterRoleName(ns), Labels: common},
			Rules:      UIRules(),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: UIClusterRoleName(ns), Labels: common},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: UIClusterRoleName(ns)},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: UIName, Namespace: ns}},
		},
	}
	if len(secret) > 0 {
		data := map[string][]byte{}
		for k, v := range secret {
			data[k] = []byte(v)
		}
		typed = append(typed, &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: data})
	}
	typed = append(typed,
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: uiSelector()},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: map[string]string{"kfstack.dev/ui-secret-hash": hashOf(secret)}},
					Spec: corev1.PodSpec{
						ServiceAccountName:            UIName,
						TerminationGracePeriodSeconds: ptr(int64(10)),
						NodeSelector:                  o.NodeSelector,
						Tolerations:                   o.Tolerations,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{container},
						Volumes:    volumes,
					},
				},
			},
		},
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta,
			Spec: corev1.ServiceSpec{
				Selector: uiSelector(),
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
			},
		},
	)
	var istio []*unstructured.Unstructured
	if vs := u.VirtualService; vs != nil {
		istio = append(istio, uiVirtualService(o, common))
	}
	return typed, istio
}

// uiVirtualService routes the gateway's requests under the base path to
// the UI's Service, unchanged (the UI serves under that path), adding the
// shared secret that tells the UI the request came through the gateway.
func uiVirtualService(o Options, common map[string]string) *unstructured.Unstructured {
	u := o.UI
	base := u.BasePath
	if base == "" {
		base = "/"
	}
	hosts := []any{}
	for _, h := range u.VirtualService.Hosts {
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		hosts = []any{"*"}
	}
	route := map[string]any{
		"match": []any{map[string]any{"uri": map[string]any{"prefix": base}}},
		"route": []any{map[string]any{"destination": map[string]any{"host": UIName + "." + o.Namespace + ".svc.cluster.local", "port": map[string]any{"number": int64(80)}}}},
	}
	if u.Auth == "header" && u.ProxySecret != "" {
		route["headers"] = map[string]any{"request": map[string]any{"set": map[string]any{DefaultProxySecretHeader: u.ProxySecret}}}
	}
	labels := map[string]any{}
	for k, v := range common {
		labels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": UIName, "namespace": o.Namespace, "labels": labels},
		"spec":     map[string]any{"hosts": hosts, "gateways": []any{u.VirtualService.Gateway}, "http": []any{route}},
	}}
}

// DefaultProxySecretHeader is the header of the gateway's shared secret
// (runtime/ui.DefaultSecretHeader).
const DefaultProxySecretHeader = "x-kfstack-proxy-secret"

// hashOf is a digest of the UI's secrets, so that changing one rolls the
// pods (as Helm charts' checksum annotations do).
func hashOf(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + m[k] + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
