package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap/bootstraptest"
)

// TestUIObjects checks what the UI option renders: a Deployment of
// `kfstack-runtime ui` with its own service account, its secrets mounted
// from a Secret and never in its arguments, a Service, a ClusterRole with
// exactly UIRules (checked with SubjectAccessReviews: it reads the
// runtime's kinds, creates and cancels runs, asks about users, and cannot
// create pods or read secrets), and a VirtualService on the Istio gateway
// that sends the shared secret; the API server accepts them (dry run).
func TestUIObjects(t *testing.T) {
	ctx := context.Background()
	const ns = "kf-ui"
	ui := &UIOptions{
		Replicas: 2, Auth: "header", GroupsHeader: "kubeflow-groups", ProxySecret: "0123456789abcdef-secret",
		BasePath: "/pipelines-ui/", AllowedPipelineRoots: []string{"gs://team-a/artifacts"},
		ServiceAccountAnnotations: map[string]string{"iam.gke.io/gcp-service-account": "ui@p.iam.gserviceaccount.com"},
		VirtualService:            &UIVirtualService{Gateway: "kubeflow/kubeflow-gateway", Hosts: []string{"ml.example.com"}},
	}
	c, err := Component(Options{Version: "v1", Namespace: ns, Replicas: 1, PipelineRoot: "gs://ml/root", UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]*unstructured.Unstructured{}
	for _, o := range c.Manifests[0].Objects {
		objects[o.GetKind()+"/"+o.GetName()] = o
	}
	var deploy appsv1.Deployment
	fromUnstructured(t, objects["Deployment/"+UIName], &deploy)
	pod := deploy.Spec.Template.Spec
	ctr := pod.Containers[0]
	wantArgs := []string{"ui", "--bind-address=:8082", "--health-probe-bind-address=:8083", "--auth=header", "--pipeline-root=gs://ml/root",
		"--allowed-pipeline-root=gs://team-a/artifacts", "--base-path=/pipelines-ui/", "--groups-header=kubeflow-groups", "--proxy-secret-file=/etc/kfstack/ui/proxy-secret"}
	if !slices.Equal(ctr.Args, wantArgs) {
		t.Errorf("args\n got %q\nwant %q", ctr.Args, wantArgs)
	}
	if strings.Contains(strings.Join(ctr.Args, " "), ui.ProxySecret) {
		t.Error("the shared secret is in the UI's arguments")
	}
	if pod.ServiceAccountName != UIName || *deploy.Spec.Replicas != 2 || !*ctr.SecurityContext.ReadOnlyRootFilesystem || *pod.SecurityContext.RunAsUser != 65532 {
		t.Errorf("pod %+v", pod)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].Secret.SecretName != UIName || ctr.VolumeMounts[0].MountPath != uiSecretDir {
		t.Errorf("volumes %+v, mounts %+v", pod.Volumes, ctr.VolumeMounts)
	}
	if back := ParseUIArgs(ctr.Args); back.Auth != "header" || back.BasePath != "/pipelines-ui/" || back.GroupsHeader != "kubeflow-groups" || !slices.Equal(back.AllowedPipelineRoots, ui.AllowedPipelineRoots) {
		t.Errorf("ParseUIArgs = %+v", back)
	}
	var secret corev1.Secret
	fromUnstructured(t, objects["Secret/"+UIName], &secret)
	if string(secret.Data["proxy-secret"]) != ui.ProxySecret {
		t.Errorf("secret %v", secret.Data)
	}
	var sa corev1.ServiceAccount
	fromUnstructured(t, objects["ServiceAccount/"+UIName], &sa)
	if sa.Annotations["iam.gke.io/gcp-service-account"] == "" {
		t.Errorf("service account annotations %v", sa.Annotations)
	}
	var svc corev1.Service
	fromUnstructured(t, objects["Service/"+UIName], &svc)
	if svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.StrVal != "http" || svc.Spec.Selector["app.kubernetes.io/component"] != "ui" {
		t.Errorf("service %+v", svc.Spec)
	}
	vs := objects["VirtualService/"+UIName]
	if vs == nil {
		t.Fatal("no VirtualService")
	}
	gateways, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
	hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	route, _ := routes[0].(map[string]any)
	match, _, _ := unstructured.NestedSlice(route, "match")
	if prefix, _, _ := unstructured.NestedString(match[0].(map[string]any), "uri", "prefix"); prefix != "/pipelines-ui/" {
		t.Errorf("the route's prefix %q", prefix)
	}
	set, _, _ := unstructured.NestedStringMap(route, "headers", "request", "set")
	dest, _, _ := unstructured.NestedSlice(route, "route")
	if !slices.Equal(gateways, []string{"kubeflow/kubeflow-gateway"}) || !slices.Equal(hosts, []string{"ml.example.com"}) || set[DefaultProxySecretHeader] != ui.ProxySecret || len(dest) != 1 {
		t.Errorf("VirtualService spec %v", vs.Object["spec"])
	}

	// The API server accepts them; the UI's service account may do what
	// the UI does and nothing else.
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, key := range []string{"Deployment/" + UIName, "Service/" + UIName, "Secret/" + UIName, "ServiceAccount/" + UIName} {
		o := objects[key]
		gvr := map[string]schema.GroupVersionResource{
			"Deployment": {Group: "apps", Version: "v1", Resource: "deployments"}, "Service": {Version: "v1", Resource: "services"},
			"Secret": {Version: "v1", Resource: "secrets"}, "ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
		}[o.GetKind()]
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("the API server refuses %s: %v", key, err)
		}
	}
	var role rbacv1.ClusterRole
	var binding rbacv1.ClusterRoleBinding
	fromUnstructured(t, objects["ClusterRole/"+UIClusterRoleName(ns)], &role)
	fromUnstructured(t, objects["ClusterRoleBinding/"+UIClusterRoleName(ns)], &binding)
	role.ResourceVersion, binding.ResourceVersion = "", ""
	if _, err := cluster.Client.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Client.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{}) }()
	if _, err := cluster.Client.RbacV1().ClusterRoleBindings().Create(ctx, &binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cluster.Client.RbacV1().ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
	}()
	sa2 := "system:serviceaccount:" + ns + ":" + UIName
	group := "pipelines.kfstack.dev"
	for _, check := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "watch", Group: group, Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Group: group, Resource: "experiments"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: group, Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: group, Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: group, Resource: "experiments"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Resource: "pods"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "pods"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Resource: "pods", Subresource: "log"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: group, Resource: "pipelineruns"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: group, Resource: "pipelineruns", Subresource: "status"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: group, Resource: "pipelines"}, false},
		{authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "users"}, false},
	} {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			review, err := cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: sa2, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}, ResourceAttributes: &check.attrs,
			}}, metav1.CreateOptions{})
			return err == nil && review.Status.Allowed == check.allow, err
		})
		if err != nil {
			t.Errorf("%s %s/%s in %q: want allowed %v: %v", check.attrs.Verb, check.attrs.Resource, check.attrs.Subresource, check.attrs.Namespace, check.allow, err)
		}
	}

	// The VirtualService against Istio's own CRD (from ../shared/upstream).
	crdFile := filepath.Join(bootstraptest.Upstream(t, "istio", "1.30.3", "base", "files"), "crd-all.gen.yaml")
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	var crd *apiextensionsv1.CustomResourceDefinition
	for _, doc := range bytes.Split(b, []byte("\n---")) {
		if bytes.Contains(doc, []byte("name: virtualservices.networking.istio.io")) {
			crd = &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.Unmarshal(doc, crd); err != nil {
				t.Fatal(err)
			}
		}
	}
	if crd == nil {
		t.Fatalf("no VirtualService CRD in %s", crdFile)
	}
	crdClient := dyn.Resource(crdGVR)
	raw := map[string]any{}
	j, _ := yaml.Marshal(crd)
	if err := yaml.Unmarshal(j, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "status")
	if _, err := crdClient.Create(ctx, &unstructured.Unstructured{Object: raw}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	vsGVR := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(vsGVR).Namespace(ns).Create(ctx, vs, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsNotFound(err) {
			return false, nil // the CRD is not served yet
		}
		return err == nil, err
	})
	if err != nil {
		t.Errorf("the API server refuses the VirtualService: %v", err)
	}

	// Without the UI, none of it.
	c, err = Component(Options{Version: "v1", Namespace: ns, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range c.Manifests[0].Objects {
		if strings.HasPrefix(o.GetName(), UIName) || o.GetKind() == "VirtualService" {
			t.Errorf("without the UI: %s %s", o.GetKind(), o.GetName())
		}
	}
}

// TestCheckUI: every setting the UI would refuse is refused at plan time,
// naming it.
func TestCheckUI(t *testing.T) {
	for _, c := range []struct {
		ui   UIOptions
		want string
	}{
		{UIOptions{Auth: "header"}, "set proxy_secret"},
		{UIOptions{Auth: "header", ProxySecret: "short"}, "proxy_secret must be at least 16"},
		{UIOptions{Auth: "header", TrustedProxies: []string{"10.0.0.0/40"}}, `trusted_proxies: "10.0.0.0/40"`},
		{UIOptions{Auth: "oidc", OIDC: &UIOIDC{Issuer: "https://dex"}}, "needs oidc.issuer, oidc.client_id"},
		{UIOptions{Auth: "oidc", OIDC: &UIOIDC{Issuer: "https://dex", ClientID: "c", ClientSecret: "s", RedirectURL: "https://ui/cb"}}, "must end in /auth/callback"},
		{UIOptions{Auth: "none"}, "only for a UI on your own machine"},
		{UIOptions{Auth: "basic"}, `auth "basic" must be one of header, oidc`},
		{UIOptions{Auth: "header", ProxySecret: "0123456789abcdef", BasePath: "ui"}, `base_path "ui" must start and end with /`},
		{UIOptions{Auth: "header", ProxySecret: "0123456789abcdef", AllowedPipelineRoots: []string{"ftp://x"}}, "allowed_pipeline_roots"},
		{UIOptions{Auth: "header", ProxySecret: "0123456789abcdef", VirtualService: &UIVirtualService{Gateway: "gw"}}, "must be namespace/name"},
	} {
		err := CheckUI(&c.ui)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.ui, err, c.want)
		}
	}
	if err := CheckUI(&UIOptions{Auth: "header", TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1"}}); err != nil {
		t.Error(err)
	}
}
