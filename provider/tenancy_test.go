package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

var runsGVR = schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelineruns"}

// impersonate is a dynamic client acting as user, as kubectl --as does.
func impersonate(user string) dynamic.Interface {
	cfg := rest.CopyConfig(testCluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	return dynamic.NewForConfigOrDie(cfg)
}

// kubectlYAML is an object as a user writes it for kubectl apply.
func kubectlYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func teamConfig(name, runAccounts string) string {
	return profileConfig(name, fmt.Sprintf(`
  owner        = { name = "alice@example.com" }
  contributors = [{ name = "bob@example.com" }, { name = "carol@example.com", role = "view" }]
  run_service_accounts = %s
`, runAccounts))
}

// TestAccProfile_members makes a team with kubeflow_profile and uses the
// runtime as its members would, with kubectl-shaped objects and the API
// server's own authorizer (impersonation): the edit member creates a
// pipeline and a run in the team's namespace, and the run gets a status
// from the controller (running as its ServiceAccount); not in another
// namespace. The view member reads and cannot create or delete. The
// service accounts runs may use are the profile's, kept in namespace
// annotations that an edit out of band shows as drift.
func TestAccProfile_members(t *testing.T) {
	startRuntime(t)
	name := uniqueName("team")
	other := pipelineNamespace(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// The policy's annotations are the profile's own.
				Config: profileConfig(name, fmt.Sprintf(`
  owner       = { name = "alice@example.com" }
  annotations = { %q = "admin" }
`, v1alpha1.AnnotationAllowedServiceAccounts)),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)the\s+profile\s+sets\s+this\s+annotation\s+from\s+run_service_accounts`),
			},
			{
				Config: teamConfig(name, `["trainer"]`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("run_service_accounts"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("trainer")})),
				},
				Check: func(*terraform.State) error {
					ns, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if ns.Annotations[v1alpha1.AnnotationDefaultServiceAccount] != "pipeline-runner" || ns.Annotations[v1alpha1.AnnotationAllowedServiceAccounts] != "trainer" {
						return fmt.Errorf("namespace annotations %v", ns.Annotations)
					}
					return membersUseTheRuntime(t, name, other)
				},
			},
			{
				// A member cannot change the policy (a namespace is
				// cluster-scoped); an admin's edit shows in the plan.
				PreConfig: func() {
					patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"trainer,kfstack-runtime-controller"}}}`, v1alpha1.AnnotationAllowedServiceAccounts)
					if _, err := impersonate("alice@example.com").Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
						t.Errorf("the profile's owner editing the namespace's annotations: %v, want Forbidden", err)
					}
					if _, err := testCluster.Client.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: teamConfig(name, `["trainer"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					ns, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if got := ns.Annotations[v1alpha1.AnnotationAllowedServiceAccounts]; got != "trainer" {
						return fmt.Errorf("allowed service accounts after the apply: %q", got)
					}
					return nil
				},
			},
		},
	})
}

// membersUseTheRuntime checks what bob (edit) and carol (view) may do.
func membersUseTheRuntime(t *testing.T, ns, other string) error {
	ctx := context.Background()
	bob, carol := impersonate("bob@example.com"), impersonate("carol@example.com")
	pipelines := runsGVR.GroupVersion().WithResource("pipelines")
	pl := kubectlYAML(t, `
apiVersion: pipelines.kfstack.dev/v1alpha1
kind: Pipeline
metadata: {name: hello}
spec:
  dag: |
    name: hello
    tasks:
    - {name: hi, image: busybox, command: [echo, hi]}
`)
	if _, err := bob.Resource(pipelines).Namespace(ns).Create(ctx, pl, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("edit member creating a pipeline: %w", err)
	}
	run := kubectlYAML(t, "apiVersion: pipelines.kfstack.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: hello}\nspec: {pipeline: hello}\n")
	if _, err := bob.Resource(runsGVR).Namespace(ns).Create(ctx, run, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("edit member creating a run: %w", err)
	}
	if _, err := bob.Resource(runsGVR).Namespace(other).Create(ctx, run, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		return notForbidden("edit member creating a run in another namespace", err)
	}
	// The controller writes the run's status (the CRD's rules hold for a
	// run without the optional fields) and starts it; the pod executor's
	// pod waits on a simulated node, so the run stays Running.
	got := &v1alpha1.PipelineRun{}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := runtimeClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hello"}, got)
		// Pending while the pipeline's first version is being made; the
		// service account is resolved when the run starts.
		return err == nil && (got.Status.ServiceAccountName != "" || got.Status.Phase.Terminal()), err
	}); err != nil {
		return fmt.Errorf("the run made with kubectl did not start: %w (%+v)", err, got.Status)
	}
	if got.Status.ServiceAccountName != "pipeline-runner" {
		return fmt.Errorf("the run's service account is %q, want the profile's pipeline-runner (phase %s: %s)", got.Status.ServiceAccountName, got.Status.Phase, got.Status.Message)
	}
	if _, err := carol.Resource(runsGVR).Namespace(ns).Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("view member reading a run: %w", err)
	}
	if _, err := carol.Resource(runsGVR).Namespace(ns).Create(ctx, kubectlYAML(t, "apiVersion: pipelines.kfstack.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: carols}\nspec: {pipeline: hello}\n"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		return notForbidden("view member creating a run", err)
	}
	if err := carol.Resource(pipelines).Namespace(ns).Delete(ctx, "hello", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		return notForbidden("view member deleting a pipeline", err)
	}
	return bob.Resource(runsGVR).Namespace(ns).Delete(ctx, "hello", metav1.DeleteOptions{})
}

// notForbidden explains a request that should have been forbidden.
func notForbidden(what string, err error) error {
	if err == nil {
		return fmt.Errorf("%s was allowed; want Forbidden", what)
	}
	return fmt.Errorf("%s: %w; want Forbidden", what, err)
}

// TestAccRun_secretsAndServiceAccount: a run naming a service account its
// namespace does not allow is refused before anything is created, naming
// service_account; parameters_from_secret reaches the run as
// spec.parameterSecrets and sensitive_parameters as parameters, kept
// apart in state; the combinations the runtime refuses fail at plan time.
func TestAccRun_secretsAndServiceAccount(t *testing.T) {
	ns := pipelineNamespace(t)
	ctx := context.Background()
	live, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Annotations = map[string]string{v1alpha1.AnnotationDefaultServiceAccount: "runner", v1alpha1.AnnotationAllowedServiceAccounts: "trainer"}
	if _, err := testCluster.Client.CoreV1().Namespaces().Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, sa := range []string{"runner", "trainer"} {
		if _, err := testCluster.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(account, extra string) string {
		return pipelineConfig(ns, greetDAG("hi")) + fmt.Sprintf(`
resource "kubeflow_run" "test" {
  name            = "secret"
  namespace       = %q
  pipeline        = kubeflow_pipeline.test.name
  service_account = %q
  wait            = false
%s
  depends_on = [kubeflow_pipeline.test]
}
`, ns, account, extra)
	}
	secrets := `
  parameters             = { who = "ada" }
  sensitive_parameters   = { note = "s3cr3t-note" }
  parameters_from_secret = { token = { name = "api", key = "token" } }
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      run("trainer", `parameters = { who = "ada" }`+"\n"+`sensitive_parameters = { who = "x" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)sensitive_parameters\["who"\]:\s+the\s+parameter\s+is\s+in\s+parameters\s+too`),
			},
			{
				Config:      run("trainer", secrets+`executor = "local"`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)parameters_from_secret:\s+Forbidden:\s+the\s+local\s+executor\s+runs\s+tasks\s+inside\s+the\s+controller`),
			},
			{
				Config:      run("kfstack-runtime-controller", ""),
				ExpectError: regexp.MustCompile(`(?s)service_account:\s+service\s+account\s+"kfstack-runtime-controller"\s+is\s+not\s+one\s+that\s+runs\s+in\s+this\s+namespace\s+may\s+use`),
			},
			{
				PreConfig: func() {
					if err := runtimeClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secret"}, &v1alpha1.PipelineRun{}); !apierrors.IsNotFound(err) {
						t.Errorf("a refused run was created: %v", err)
					}
				},
				// What reaches the run object (with wait = false: the
				// controller then fails the run, as the pipeline takes
				// neither note nor token).
				Config: run("trainer", secrets),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"who": knownvalue.StringExact("ada")})),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("sensitive_parameters"), knownvalue.MapExact(map[string]knownvalue.Check{"note": knownvalue.StringExact("s3cr3t-note")})),
					statecheck.ExpectKnownValue("kubeflow_run.test", tfjsonpath.New("parameters_from_secret").AtMapKey("token").AtMapKey("name"), knownvalue.StringExact("api")),
				},
				Check: func(*terraform.State) error {
					r := &v1alpha1.PipelineRun{}
					if err := runtimeClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "secret"}, r); err != nil {
						return err
					}
					if r.Spec.Parameters["note"] != "s3cr3t-note" || r.Spec.ParameterSecrets["token"] != (v1alpha1.SecretKeyRef{Name: "api", Key: "token"}) || r.Spec.ServiceAccountName != "trainer" {
						return fmt.Errorf("spec = %+v", r.Spec)
					}
					return nil
				},
			},
		},
	})
}
