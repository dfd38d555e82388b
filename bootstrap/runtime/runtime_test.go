package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { cluster = c })
}

// deleteCRDTimeout bounds a test that deletes CRDs: the API server's CRD
// finalizer meets "storage is (re)initializing" when a CRD is deleted
// seconds after it was created, backs off exponentially, and may delete
// it only about five minutes later.
const deleteCRDTimeout = 10 * time.Minute

var (
	pipelines = schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelines"}
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

func newInstaller(t *testing.T) *bootstrap.Installer {
	t.Helper()
	in, err := bootstrap.NewInstaller(cluster.Config, t.TempDir(), func(_ context.Context, msg string, fields map[string]any) {
		t.Logf("%s %v", msg, fields)
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestInstallDriftUninstall installs the runtime from nothing, with an
// image mirror; checks what the controller may and may not do; repairs a
// deleted Deployment; and uninstalls while a Pipeline's finalizer holds
// it, showing that custom resources go first, while the controller still
// runs, and that nothing is left afterwards.
func TestInstallDriftUninstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	if _, err := dyn.Resource(crdGVR).Get(ctx, "pipelines.pipelines.kfstack.dev", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the runtime's CRDs exist before the test: %v", err)
	}
	const ns = "kfstack-rt"
	options := Options{Version: "v0.4.2", Namespace: ns, ImageRegistry: "mirror.example.com/kfstack", PipelineRoot: "s3://artifacts/runs", Replicas: 1}
	c, err := Component(options)
	if err != nil {
		t.Fatal(err)
	}
	in := newInstaller(t)
	status, err := in.Install(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	// Namespace, ServiceAccount, RBAC (the controller's, its MPIJob
	// permissions, the aggregated MPIJob roles of profile members),
	// Deployment, metrics Service, the metrics-reader role and the CRDs (Pipeline, PipelineRun,
	// Experiment, MPIJob, Schedule), and the members' aggregated roles (view, edit).
	if !status.Ready || len(status.Manifests) != 1 || status.Manifests[0].Objects != 20 {
		t.Fatalf("status = %+v", status)
	}
	deploy, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	container := deploy.Spec.Template.Spec.Containers[0]
	const want = "mirror.example.com/kfstack/kfstack-runtime:v0.4.2"
	if container.Image != want || !slices.Contains(container.Args, "--runtime-image="+want) {
		t.Errorf("image %s, args %v: want %s from the mirror in both", container.Image, container.Args, want)
	}
	for _, arg := range []string{"--leader-elect", "--leader-election-namespace=" + ns, "--pipeline-root=s3://artifacts/runs"} {
		if !slices.Contains(container.Args, arg) {
			t.Errorf("args %v lack %s", container.Args, arg)
		}
	}
	if deploy.Status.AvailableReplicas != 1 {
		t.Errorf("available replicas = %d", deploy.Status.AvailableReplicas)
	}

	// Least privilege, as the API server's authorizer sees it.
	sa := "system:serviceaccount:" + ns + ":" + ControllerName
	for _, check := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "pods"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "watch", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "pipelines.kfstack.dev", Resource: "pipelineruns", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "events.k8s.io", Resource: "events"}, true},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"}, false},
		// Schedules: their runs are created, cancelled (patch) and deleted
		// beyond the history limits; a schedule is suspended (patch) after
		// too many failures and never otherwise changed.
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "pipelines.kfstack.dev", Resource: "pipelineruns"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "watch", Group: "pipelines.kfstack.dev", Resource: "schedules"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: "pipelines.kfstack.dev", Resource: "schedules"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "pipelines.kfstack.dev", Resource: "schedules", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "pipelines.kfstack.dev", Resource: "schedules"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "pipelines.kfstack.dev", Resource: "schedules"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "pipelines.kfstack.dev", Resource: "schedules"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "pipelines.kfstack.dev", Resource: "pipelines"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Group: "pipelines.kfstack.dev", Resource: "experiments"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "pipelines.kfstack.dev", Resource: "experiments"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Resource: "pods"}, false},
		// The metrics filter asks who scrapes and whether they may.
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
		// The cache signing key: its own Secret, in its own namespace.
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "secrets", Name: CacheKeySecretName}, true},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "secrets", Name: WebhookSecretName}, false},
		{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Resource: "secrets"}, false},
		// No say over the API itself (the local executor's notice is for a
		// controller outside the cluster).
		{authorizationv1.ResourceAttributes{Verb: "patch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "pipelineruns.pipelines.kfstack.dev"}, false},
		// kfp-kubernetes CreatePVC/DeletePVC tasks and run workspaces; no
		// listing or changing other claims.
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "persistentvolumeclaims"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Resource: "persistentvolumeclaims"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Resource: "persistentvolumeclaims"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Resource: "persistentvolumeclaims"}, false},
		// MPIJobs: their status, objects and SSH Secrets, which it may
		// create but never read; pod logs for failure messages.
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "kubeflow.org", Resource: "mpijobs", Subresource: "status"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "update", Group: "kubeflow.org", Resource: "mpijobs"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "batch", Resource: "jobs"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "secrets"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "get", Resource: "pods", Subresource: "log"}, true},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Resource: "configmaps"}, false},
		{authorizationv1.ResourceAttributes{Verb: "get", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "mpijobs.kubeflow.org"}, true},
		{authorizationv1.ResourceAttributes{Verb: "get", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "pipelines.pipelines.kfstack.dev"}, false},
		{authorizationv1.ResourceAttributes{Verb: "get", Resource: "namespaces"}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "namespaces"}, false},
		{authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Resource: "serviceaccounts", Subresource: "token"}, false},
	} {
		review, err := cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}, ResourceAttributes: &check.attrs,
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != check.allow {
			t.Errorf("%s %s/%s in %s: allowed = %v, want %v", check.attrs.Verb, check.attrs.Resource, check.attrs.Subresource, check.attrs.Namespace, review.Status.Allowed, check.allow)
		}
	}

	membersGetTheRuntimeKinds(ctx, t)
	controllerRunsWithInstalledRBAC(ctx, t, ns)

	// Drift: a deleted Deployment is found and put back.
	if err := cluster.Client.AppsV1().Deployments(ns).Delete(ctx, ControllerName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	status, err = in.Check(ctx, c)
	if err != nil || !slices.Contains(status.Drift, "Deployment "+ns+"/"+ControllerName+": deleted") || status.Ready {
		t.Fatalf("check = %+v, %v", status, err)
	}
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	if status, err := in.Check(ctx, c); err != nil || len(status.Drift) != 0 || !status.Ready {
		t.Fatalf("after repair: %+v, %v", status, err)
	}

	// A Pipeline whose finalizer holds it: uninstall must wait for it
	// while the controller and the CRDs are still there.
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rt-team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	held := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "Pipeline",
		"metadata": map[string]any{"name": "held", "namespace": "rt-team", "finalizers": []any{"kfstack.dev/test-hold"}},
		"spec":     map[string]any{"dag": "tasks: []"},
	}}
	if _, err := dyn.Resource(pipelines).Namespace("rt-team").Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Uninstall(ctx, c) }()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := dyn.Resource(pipelines).Namespace("rt-team").Get(ctx, "held", metav1.GetOptions{})
		return err == nil && p.GetDeletionTimestamp() != nil, err
	})
	if err != nil {
		t.Fatalf("the Pipeline was not deleted first: %v", err)
	}
	if d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{}); err != nil || d.DeletionTimestamp != nil {
		t.Errorf("the controller went before the custom resources: %v", err)
	}
	for _, name := range crdNames(t) {
		if crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{}); err != nil || crd.GetDeletionTimestamp() != nil {
			t.Errorf("CRD %s went before its custom resources: %v", name, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("uninstall returned while a Pipeline was still there: %v", err)
	case <-time.After(time.Second):
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := dyn.Resource(pipelines).Namespace("rt-team").Patch(ctx, "held", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, name := range crdNames(t) {
		if _, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("CRD %s after uninstall: %v", name, err)
		}
	}
	if _, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after uninstall: %v", err)
	}
	if _, err := cluster.Client.RbacV1().ClusterRoles().Get(ctx, ClusterRoleName(ns), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole after uninstall: %v", err)
	}
	if _, err := cluster.Client.RbacV1().ClusterRoleBindings().Get(ctx, ClusterRoleName(ns), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRoleBinding after uninstall: %v", err)
	}
	if status, err := in.Check(ctx, c); err != nil || status != nil {
		t.Errorf("check after uninstall: %+v, %v", status, err)
	}
}

// TestAdoptsExistingCRDs installs over CRDs and a namespace that someone
// else created: they are brought up to date, and uninstall leaves them,
// with their custom resources, in place.
func TestAdoptsExistingCRDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteCRDTimeout)
	defer cancel()
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	all, err := crds.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range all {
		crd.Spec.Versions[0].AdditionalPrinterColumns = nil // an older copy
		if err := createCRD(ctx, crd); err != nil {
			t.Fatal(err)
		}
	}
	const ns = "kfstack-adopt"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	c, err := Component(Options{Version: "v0.4.2", Namespace: ns, Replicas: 0})
	if err != nil {
		t.Fatal(err)
	}
	in := newInstaller(t)
	if _, err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	live, err := dyn.Resource(crdGVR).Get(ctx, "pipelines.pipelines.kfstack.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cols, _, _ := unstructured.NestedSlice(live.Object, "spec", "versions"); len(cols) == 0 || cols[0].(map[string]any)["additionalPrinterColumns"] == nil {
		t.Errorf("the adopted CRD was not brought up to date: %v", cols)
	}
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "adopt-team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kept := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "Pipeline",
		"metadata": map[string]any{"name": "kept", "namespace": "adopt-team"},
		"spec":     map[string]any{"dag": "tasks: []"},
	}}
	if _, err := dyn.Resource(pipelines).Namespace("adopt-team").Create(ctx, kept, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := in.Uninstall(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(pipelines).Namespace("adopt-team").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("a Pipeline of an adopted CRD was deleted: %v", err)
	}
	if n, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Errorf("the adopted namespace was deleted: %v", err)
	}
	if _, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("controller after uninstall: %v", err)
	}
	if _, err := cluster.Client.RbacV1().ClusterRoles().Get(ctx, ClusterRoleName(ns), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole after uninstall: %v", err)
	}
}

func createCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	crd.TypeMeta = metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	raw, err := toUnstructured(crd)
	if err != nil {
		return err
	}
	if _, err := dyn.Resource(crdGVR).Create(ctx, raw, metav1.CreateOptions{FieldManager: "someone-else"}); err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		live, err := dyn.Resource(crdGVR).Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			if m := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

func crdNames(t *testing.T) []string {
	t.Helper()
	names, err := CRDNames()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		options Options
		want    string
	}{
		{Options{Version: "v1", Image: "Not An Image"}, `image: "Not An Image" is not an image reference`},
		{Options{Version: "v1", Replicas: -1}, "replicas: -1 is negative"},
		{Options{Version: "v1", PipelineRoot: "http://example.com/x"}, "pipeline_root: \"http://example.com/x\": the scheme must be gs://, s3:// or file://"},
		{Options{Version: "v1", PipelineRoot: "gs:///x"}, "names no bucket"},
		{Options{Version: "v1", PipelineRoot: "file://relative/x"}, "not an absolute file URL"},
		{Options{Version: "v1", Namespace: "Bad_NS"}, "namespace: \"Bad_NS\""},
		{Options{Version: "v1", NodeSelector: map[string]string{"pool": "a b"}}, "node_selector: value \"a b\" of pool"},
		{Options{Version: "v1", Tolerations: []corev1.Toleration{{Key: "gpu", Operator: "Sometimes"}}}, `tolerations[0]: operator "Sometimes"`},
		{Options{Version: "v1", ImageRegistry: "Bad Registry"}, "image_registry:"},
		{Options{}, "version: a version"},
	} {
		_, err := Component(tc.options)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error = %v, want it to say %q", tc.options, err, tc.want)
		}
	}
	c, err := Component(Options{Version: "v1", PipelineRoot: "file:///var/lib/kfstack"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace != DefaultNamespace {
		t.Errorf("namespace = %s", c.Namespace)
	}
}

func toUnstructured(obj *apiextensionsv1.CustomResourceDefinition) (*unstructured.Unstructured, error) {
	raw, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: raw}, nil
}

// TestControllerRunsNoLocalExecutor: the controller in the cluster never
// runs task commands itself: no --allow-local-executor, no work
// directory, nothing writable mounted (the local executor once had /tmp),
// metrics over HTTPS behind authorisation, with a reader role to bind.
func TestControllerRunsNoLocalExecutor(t *testing.T) {
	for _, o := range []Options{{Version: "v1", Replicas: 1}, {Version: "v1", Replicas: 2, Webhooks: true, PipelineRoot: "file:///data/artifacts"}} {
		c, err := Component(o)
		if err != nil {
			t.Fatal(err)
		}
		var reader *rbacv1.ClusterRole
		for _, obj := range c.Manifests[0].Objects {
			switch {
			case obj.GetKind() == "Deployment":
				var d appsv1.Deployment
				if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
					t.Fatal(err)
				}
				ctr := d.Spec.Template.Spec.Containers[0]
				for _, arg := range ctr.Args {
					if strings.Contains(arg, "local-executor") || strings.Contains(arg, "workdir") || strings.HasPrefix(arg, "--metrics-secure=false") {
						t.Errorf("webhooks %v: the controller runs with %s", o.Webhooks, arg)
					}
				}
				if !slices.Contains(ctr.Args, "--metrics-bind-address=:8443") || !slices.Contains(ctr.Args, "--cache-key-secret=kfstack-system/"+CacheKeySecretName) {
					t.Errorf("args %v", ctr.Args)
				}
				for _, m := range ctr.VolumeMounts {
					if !m.ReadOnly {
						t.Errorf("webhooks %v: %s is mounted writable at %s", o.Webhooks, m.Name, m.MountPath)
					}
				}
				if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Error("the root filesystem is writable")
				}
			case obj.GetKind() == "ClusterRole" && obj.GetName() == MetricsReaderRoleName("kfstack-system"):
				reader = &rbacv1.ClusterRole{}
				if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, reader); err != nil {
					t.Fatal(err)
				}
			case obj.GetKind() == "Service" && obj.GetName() == MetricsServiceName:
				if ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports"); len(ports) != 1 || ports[0].(map[string]any)["name"] != "https" {
					t.Errorf("metrics Service ports %v", ports)
				}
			}
		}
		if reader == nil || len(reader.Rules) != 1 || !slices.Equal(reader.Rules[0].NonResourceURLs, []string{"/metrics"}) || !slices.Equal(reader.Rules[0].Verbs, []string{"get"}) {
			t.Errorf("metrics reader role = %+v", reader)
		}
	}
}

// membersGetTheRuntimeKinds checks, with the authorizer, what Kubernetes'
// edit, view and admin roles grant on the runtime's kinds through the
// installed aggregated ClusterRoles (aggregation is the controller
// manager's work: polled until it shows).
func membersGetTheRuntimeKinds(ctx context.Context, t *testing.T) {
	t.Helper()
	const team = "rt-members"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]string{"bob": "edit", "carol": "view", "alice": "admin"} {
		if _, err := cluster.Client.RbacV1().RoleBindings(team).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	type check struct {
		user  string
		attrs authorizationv1.ResourceAttributes
		allow bool
	}
	var checks []check
	for _, kind := range crdNames(t) {
		plural, group, _ := strings.Cut(kind, ".")
		at := func(ns, verb, sub string) authorizationv1.ResourceAttributes {
			return authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: plural, Subresource: sub}
		}
		checks = append(checks,
			check{"bob", at(team, "create", ""), true}, check{"bob", at(team, "delete", ""), true}, check{"bob", at(team, "list", ""), true},
			check{"bob", at("kube-system", "create", ""), false}, check{"bob", at(team, "update", "status"), false},
			check{"alice", at(team, "create", ""), true}, check{"alice", at(team, "patch", "status"), false},
			check{"carol", at(team, "get", ""), true}, check{"carol", at(team, "watch", ""), true},
			check{"carol", at(team, "create", ""), false}, check{"carol", at(team, "delete", ""), false},
		)
	}
	pollCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var wrong []string
	err := wait.PollUntilContextCancel(pollCtx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		wrong = nil
		for _, c := range checks {
			review, err := cluster.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: c.user, Groups: []string{"system:authenticated"}, ResourceAttributes: &c.attrs,
			}}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			if review.Status.Allowed != c.allow {
				wrong = append(wrong, fmt.Sprintf("%s %s %s/%s in %s: allowed = %v, want %v", c.user, c.attrs.Verb, c.attrs.Resource, c.attrs.Subresource, c.attrs.Namespace, review.Status.Allowed, c.allow))
			}
		}
		return len(wrong) == 0, nil
	})
	if err != nil {
		t.Errorf("members' rights on the runtime's kinds:\n%s", strings.Join(wrong, "\n"))
	}
}

// controllerRunsWithInstalledRBAC runs the controller in this process as
// the ServiceAccount the install made, with exactly its RBAC, and has it
// take a run to the end: a task pod created, its result read, the status
// written. The simulated node cannot run the program: the test finishes
// the pod as the kubelet would.
func controllerRunsWithInstalledRBAC(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	scheme := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	ctrl.SetLogger(logr.Discard())
	// As internal/runtimetest.Impersonate does (which imports this
	// package): the ServiceAccount the install made.
	asController := rest.CopyConfig(cluster.Config)
	asController.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + ControllerName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	mgr, err := ctrl.NewManager(asController, ctrl.Options{
		Scheme: scheme, Cache: controller.CacheOptions(nil),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.Setup(mgr, controller.Options{RuntimeImage: "kfstack-runtime:test", PipelineRoot: "file://" + t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the controller: %v", err)
		}
	}()

	admin, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	const team = "rt-controller"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team}}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: team, Name: "one"},
		Spec: v1alpha1.PipelineSpec{DAG: "name: one\ntasks:\n- {name: step, image: registry.example/step:1, command: [step]}\n"}}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: team, Name: "one"}, Spec: v1alpha1.PipelineRunSpec{Pipeline: "one"}}); err != nil {
		t.Fatal(err)
	}
	run := &v1alpha1.PipelineRun{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.Client.CoreV1().Pods(team).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelRunUID})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Annotations[testcluster.AnnotationExitCode] == "" {
				if err := testcluster.FinishTaskPod(ctx, cluster.Client, team, p.Name, testcluster.TaskPodResult{Message: "{}"}); err != nil {
					return false, err
				}
			}
		}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: team, Name: "one"}, run); err != nil {
			return false, err
		}
		return run.Status.Phase.Terminal(), nil
	})
	if err != nil || run.Status.Phase != v1alpha1.RunSucceeded {
		t.Errorf("a run under the installed RBAC: %v; phase %s: %s", err, run.Status.Phase, run.Status.Message)
	}
}
