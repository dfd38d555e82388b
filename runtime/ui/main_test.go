package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kfruntime "github.com/kfstack/terraform-provider-kubeflow/bootstrap/runtime"
	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/ui"
)

var (
	cluster *testcluster.Cluster
	// admin reads and writes everything (the tests' own client).
	admin client.Client
	// uiURL is the UI served by this process, as its own service account.
	uiURL string
	// root is the controller's default pipeline root.
	root string
	// work holds the tests' files.
	work string
)

// proxySecret is what the tests' "gateway" sends with the identity header.
const proxySecret = "the-gateway-shared-secret-0123456789"

// uiNamespace holds the UI's service account.
const uiNamespace = "kfstack-ui-test"

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) {
		cluster = c
		if err := setup(c); err != nil {
			panic(err)
		}
	})
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func setup(c *testcluster.Cluster) error {
	ctx := context.Background()
	ctrl.SetLogger(logr.Discard())
	var err error
	if admin, err = client.New(c.Config, client.Options{Scheme: scheme()}); err != nil {
		return err
	}
	if err := crds.Install(ctx, admin, time.Minute); err != nil {
		return err
	}
	if err := installMemberRoles(ctx); err != nil {
		return err
	}
	if work, err = os.MkdirTemp("", "kfstack-ui-test-"); err != nil {
		return err
	}
	root = "file://" + filepath.Join(work, "artifacts")
	if err := startController(ctx, c.Config); err != nil {
		return err
	}
	return startUI(ctx, c)
}

// startController runs the runtime's controller in this process with the
// local executor (the cluster's nodes are simulated), keeping logs and
// records in the store as task pods do.
func startController(ctx context.Context, cfg *rest.Config) error {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme(), Cache: controller.CacheOptions(nil), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	if err := controller.Setup(mgr, controller.Options{RuntimeImage: "kfstack-runtime:test", WorkDir: filepath.Join(work, "runs"), PipelineRoot: root, LostPodGrace: time.Second, AllowLocalExecutor: true, Python: python()}); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "controller:", err)
			os.Exit(1)
		}
	}()
	return nil
}

// debianPython is Debian's python3, where python3-sklearn installs
// scikit-learn (the python3 first on PATH may be another one).
const debianPython = "/usr/bin/python3"

// python is the interpreter of the local executor's Python tasks:
// Debian's where there is one, as make demo does.
func python() string {
	if _, err := os.Stat(debianPython); err == nil {
		return debianPython
	}
	return ""
}

// startUI runs the UI in this process as the service account
// kubeflow_runtime gives it (impersonated, with the ClusterRole of
// kfruntime.UIRules), so a permission it lacks fails a test.
func startUI(ctx context.Context, c *testcluster.Cluster) error {
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uiNamespace}}); err != nil {
		return err
	}
	role := kfruntime.UIClusterRoleName(uiNamespace)
	if err := admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: kfruntime.UIRules()}); err != nil {
		return err
	}
	if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: kfruntime.UIName, Namespace: uiNamespace}},
	}); err != nil {
		return err
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + uiNamespace + ":" + kfruntime.UIName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + uiNamespace, "system:authenticated"},
	}
	auth, err := ui.NewHeaderAuth(ui.HeaderAuth{Secret: []byte(proxySecret), GroupsHeader: "kubeflow-groups"})
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme(), Cache: ui.CacheOptions(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	srv, err := ui.New(mgr, ui.Options{Addr: "127.0.0.1:0", Auth: auth, PipelineRoot: root, AuthzTTL: time.Second})
	if err != nil {
		return err
	}
	if err := mgr.Add(srv); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "ui:", err)
			os.Exit(1)
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for srv.Addr() == "" || !mgr.GetCache().WaitForCacheSync(ctx) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the UI did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	uiURL = "http://" + srv.Addr()
	return nil
}

// installMemberRoles gives a profile's members (ClusterRoles view and
// edit, through aggregation) the runtime's kinds.
// TODO(merge): use bootstrap/runtime's member roles once they land.
func installMemberRoles(ctx context.Context) error {
	group := v1alpha1.GroupVersion.Group
	kinds := []string{"pipelines", "pipelineruns", "experiments"}
	roles := map[string]struct {
		labels []string
		verbs  []string
	}{
		"view": {[]string{"view", "edit", "admin"}, []string{"get", "list", "watch"}},
		"edit": {[]string{"edit", "admin"}, []string{"create", "update", "patch", "delete", "deletecollection"}},
	}
	for name, r := range roles {
		labels := map[string]string{}
		for _, l := range r.labels {
			labels["rbac.authorization.k8s.io/aggregate-to-"+l] = "true"
		}
		if err := admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ui-test-members-" + name, Labels: labels},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{group}, Resources: kinds, Verbs: r.verbs}}}); err != nil {
			return err
		}
	}
	return nil
}

var nsCounter atomic.Int32

// profile makes a namespace with members, as kubeflow_profile does:
// RoleBindings of the ClusterRoles admin, edit or view to users or groups.
func profile(t testing.TB, prefix string, members map[string]string) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("%s-%d-%d", prefix, time.Now().Unix()%100000, nsCounter.Add(1))
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kfstack.dev/profile": ns}}}); err != nil {
		t.Fatal(err)
	}
	i := 0
	for subject, role := range members {
		kind := rbacv1.UserKind
		if name, ok := strings.CutPrefix(subject, "group:"); ok {
			kind, subject = rbacv1.GroupKind, name
		}
		i++
		if err := admin.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("member-%d", i)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: kind, Name: subject, APIGroup: rbacv1.GroupName}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The aggregated roles take a moment to include the runtime's kinds.
	for subject, role := range members {
		if strings.HasPrefix(subject, "group:") {
			continue
		}
		waitAllowed(t, subject, ns, map[string]string{"view": "list", "edit": "create", "admin": "create"}[role])
	}
	return ns
}

func waitAllowed(t testing.TB, user, ns, verb string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: v1alpha1.GroupVersion.Group, Resource: "pipelineruns"}}}
		if err := admin.Create(context.Background(), sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s may still not %s pipelineruns in %s", user, verb, ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createPipeline(t testing.TB, ns, name, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.PipelineSpec{Spec: string(b)}}
	if err := admin.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func createRun(t testing.TB, ns, name, pipeline, experiment string, params map[string]string) {
	t.Helper()
	r := &v1alpha1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PipelineRunSpec{Pipeline: pipeline, Experiment: experiment, Executor: v1alpha1.ExecutorLocal, Parameters: params}}
	if err := admin.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func waitRun(t testing.TB, ns, name string) *v1alpha1.PipelineRun {
	t.Helper()
	r := kfptest.WaitRun(t, admin, ns, name, 2*time.Minute)
	if r.Status.Phase != v1alpha1.RunSucceeded {
		t.Fatalf("run %s/%s: %s %s", ns, name, r.Status.Phase, r.Status.Message)
	}
	return r
}

// as is a user behind the test's gateway.
type as struct {
	user   string
	groups string
}

// do sends a request as the user, through the "gateway" (with the shared
// secret), and returns the status and body.
func (u as) do(t testing.TB, method, path, body string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, uiURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ui.DefaultSecretHeader, proxySecret)
	if u.user != "" {
		req.Header.Set(ui.DefaultUserHeader, u.user)
	}
	if u.groups != "" {
		req.Header.Set("kubeflow-groups", u.groups)
	}
	if method != http.MethodGet {
		req.Header.Set("X-Kfstack-Request", "1")
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (u as) get(t testing.TB, path string) (int, string) {
	t.Helper()
	code, body, _ := u.do(t, http.MethodGet, path, "")
	return code, body
}

func trainFile() string { return filepath.Join("testdata", "train.yaml") }
