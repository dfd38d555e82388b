package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

var pipelineRunsGVR = schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelineruns"}

// profileNamespace makes a namespace as kubeflow_profile does for the
// runtime: its pipeline runner as the default service account and
// allowed others, with the service accounts themselves; and binds user
// to the ClusterRole role (edit, view) there, as a profile binds its
// contributors.
func profileNamespace(t *testing.T, runner string, allowed []string, members map[string]string, accounts ...string) string {
	t.Helper()
	ctx := context.Background()
	ns := namespace(t)
	live := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, live); err != nil {
		t.Fatal(err)
	}
	live.Annotations = map[string]string{
		v1alpha1.AnnotationDefaultServiceAccount:  runner,
		v1alpha1.AnnotationAllowedServiceAccounts: v1alpha1.FormatAllowedServiceAccounts(allowed),
	}
	if err := k8s.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	for _, sa := range accounts {
		if err := k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}); err != nil {
			t.Fatal(err)
		}
	}
	for user, role := range members {
		if err := k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "member-" + role + "-" + strings.ReplaceAll(user, "@", "-")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// as returns a dynamic client that impersonates user.
func as(t *testing.T, user string) dynamic.Interface {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	return dynamic.NewForConfigOrDie(cfg)
}

// kubectlRun is a PipelineRun as a user writes it for kubectl apply:
// only the fields the YAML holds.
func kubectlRun(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestServiceAccountsOfRuns runs, as a profile's edit member writes them
// with kubectl (no webhook: the controller alone enforces the policy),
// a run naming no service account, one naming an allowed one and one
// naming another: the first two run their pods as the runner and the
// allowed account and report a status; the third fails at once, naming
// spec.serviceAccountName, and no pod of it ever exists.
func TestServiceAccountsOfRuns(t *testing.T) {
	ctx := context.Background()
	ns := profileNamespace(t, "runner", []string{"trainer"}, map[string]string{"bob@example.com": "edit"}, "runner", "trainer", "intruder")
	startPrograms(t, ns, succeed)
	createPipeline(t, ns, "one-step", "", oneStepDAG)
	bob := as(t, "bob@example.com").Resource(pipelineRunsGVR).Namespace(ns)
	for _, doc := range []string{`
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: PipelineRun
metadata: {name: by-default}
spec: {pipeline: one-step}
`, `
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: PipelineRun
metadata: {name: as-trainer}
spec: {pipeline: one-step, serviceAccountName: trainer}
`, `
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: PipelineRun
metadata: {name: as-intruder}
spec: {pipeline: one-step, serviceAccountName: intruder}
`} {
		if _, err := bob.Create(ctx, kubectlRun(t, doc), metav1.CreateOptions{}); err != nil {
			t.Fatalf("an edit member creating a run: %v", err)
		}
	}
	for name, sa := range map[string]string{"by-default": "runner", "as-trainer": "trainer"} {
		r := waitRun(t, ns, name, time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded || r.Status.ServiceAccountName != sa {
			t.Errorf("%s: %s, service account %q; want Succeeded as %s", name, describe(r), r.Status.ServiceAccountName, sa)
		}
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 1 || pods.Items[0].Spec.ServiceAccountName != sa {
			t.Errorf("%s: %d pods; want one running as %s", name, len(pods.Items), sa)
		}
		for _, p := range pods.Items {
			if p.Spec.ServiceAccountName != sa {
				t.Errorf("%s: pod %s runs as %q", name, p.Name, p.Spec.ServiceAccountName)
			}
		}
	}
	r := waitRun(t, ns, "as-intruder", time.Minute)
	cond := findCondition(r, v1alpha1.ConditionSucceeded)
	if r.Status.Phase != v1alpha1.RunFailed || cond == nil || cond.Reason != v1alpha1.ReasonServiceAccountNotAllowed ||
		!strings.Contains(r.Status.Message, `spec.serviceAccountName: Forbidden: service account "intruder" is not one`) {
		t.Errorf("as-intruder: %s, condition %+v; want Failed for spec.serviceAccountName", describe(r), cond)
	}
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("as-intruder: %d pods exist; nothing may run", len(pods.Items))
	}
}

// TestMembersThroughAggregatedRoles checks, with the API server's own
// authorizer, what Kubernetes' edit and view roles give a namespace's
// members on the runtime's kinds once the runtime's aggregated
// ClusterRoles are installed: edit creates and deletes runs in its own
// namespace only, view reads only, and neither writes a status.
func TestMembersThroughAggregatedRoles(t *testing.T) {
	ctx := context.Background()
	ns := profileNamespace(t, "default", nil, map[string]string{"bob@example.com": "edit", "carol@example.com": "view"})
	other := namespace(t)
	startPrograms(t, ns, succeed)
	createPipeline(t, ns, "one-step", "", oneStepDAG)
	run := func(name string) *unstructured.Unstructured {
		return kubectlRun(t, "apiVersion: pipelines.kfstack.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: "+name+"}\nspec: {pipeline: one-step}\n")
	}
	bob, carol := as(t, "bob@example.com"), as(t, "carol@example.com")

	if _, err := bob.Resource(pipelineRunsGVR).Namespace(ns).Create(ctx, run("bobs"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("edit member creating a run in the namespace: %v", err)
	}
	if _, err := bob.Resource(pipelineRunsGVR).Namespace(other).Create(ctx, run("elsewhere"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("edit member creating a run in another namespace: %v, want Forbidden", err)
	}
	pipelinesGVR := pipelineRunsGVR.GroupVersion().WithResource("pipelines")
	p := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "Pipeline",
		"metadata": map[string]any{"name": "bobs"}, "spec": map[string]any{"dag": oneStepDAG},
	}}
	if _, err := bob.Resource(pipelinesGVR).Namespace(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Errorf("edit member creating a pipeline: %v", err)
	}
	// The controller alone writes a run's status.
	r := waitRun(t, ns, "bobs", time.Minute)
	live, err := bob.Resource(pipelineRunsGVR).Namespace(ns).Get(ctx, "bobs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Object["status"] = map[string]any{"phase": "Succeeded"}
	if _, err := bob.Resource(pipelineRunsGVR).Namespace(ns).UpdateStatus(ctx, live, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("edit member writing a run's status: %v, want Forbidden", err)
	}
	if r.Status.Phase == "" {
		t.Errorf("the run has no status: %s", describe(r))
	}

	if list, err := carol.Resource(pipelineRunsGVR).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 1 {
		t.Errorf("view member listing runs: %v", err)
	}
	if _, err := carol.Resource(pipelinesGVR).Namespace(ns).Get(ctx, "one-step", metav1.GetOptions{}); err != nil {
		t.Errorf("view member reading a pipeline: %v", err)
	}
	if _, err := carol.Resource(pipelineRunsGVR).Namespace(ns).Create(ctx, run("carols"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view member creating a run: %v, want Forbidden", err)
	}
	if err := carol.Resource(pipelineRunsGVR).Namespace(ns).Delete(ctx, "bobs", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view member deleting a run: %v, want Forbidden", err)
	}
	if err := bob.Resource(pipelineRunsGVR).Namespace(ns).Delete(ctx, "bobs", metav1.DeleteOptions{}); err != nil {
		t.Errorf("edit member deleting a run: %v", err)
	}
}

func findCondition(r *v1alpha1.PipelineRun, typ string) *metav1.Condition {
	for i := range r.Status.Conditions {
		if r.Status.Conditions[i].Type == typ {
			return &r.Status.Conditions[i]
		}
	}
	return nil
}

// TestWebhookRefusesServiceAccount: with the admission webhook, a run
// naming a service account its namespace does not allow is refused at
// once, naming the field, and an allowed one is admitted.
func TestWebhookRefusesServiceAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := profileNamespace(t, "runner", []string{"trainer"}, map[string]string{"bob@example.com": "edit"})
	registerWebhooks(ctx, t, ns, testOptions)
	bob := as(t, "bob@example.com").Resource(pipelineRunsGVR).Namespace(ns)
	_, err := bob.Create(ctx, kubectlRun(t, "apiVersion: pipelines.kfstack.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: r1}\nspec: {pipeline: p, serviceAccountName: kfstack-runtime-controller}\n"), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("a run naming a service account the namespace does not allow: %v, want Invalid", err)
	}
	contains(t, "refusal", err.Error(), `admission webhook "pipelineruns.kfstack.dev" denied the request`,
		`spec.serviceAccountName: Forbidden: service account "kfstack-runtime-controller" is not one that runs in this namespace may use (runner (the default), trainer)`)
	if _, err := bob.Create(ctx, kubectlRun(t, "apiVersion: pipelines.kfstack.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: r2}\nspec: {pipeline: p, serviceAccountName: trainer}\n"), metav1.CreateOptions{}); err != nil {
		t.Errorf("an allowed service account: %v", err)
	}
}
