package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// uniqueName keeps tests that share the cluster apart.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000)
}

func profileConfig(name, body string) string {
	return providerBlock() + fmt.Sprintf(`
resource "kubeflow_profile" "test" {
  name = %q
%s
}
`, name, body)
}

const fullProfileBody = `
  owner = { name = "alice@example.com" }
  contributors = [
    { name = "bob@example.com" },
    { name = "ml-readers", kind = "group", role = "view" },
  ]
  labels      = { team = "vision" }
  annotations = { "example.com/cost-center" = "42" }
  resource_quota = {
    cpu    = "64"
    memory = "256Gi"
    gpu    = 8
    tpu    = 4
    pods   = 100
    hard   = { persistentvolumeclaims = "10" }
  }
  default_limits = {
    cpu            = "2"
    memory         = "4Gi"
    request_cpu    = "500m"
    request_memory = "1Gi"
  }
  istio_injection       = true
  workload_identity_gsa = "runner@my-project.iam.gserviceaccount.com"
`

func TestAccProfile_basic(t *testing.T) {
	name := uniqueName("basic")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{
			{
				Config: profileConfig(name, fullProfileBody),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("id"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("owner").AtMapKey("kind"), knownvalue.StringExact("user")),
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("contributors").AtSliceIndex(0).AtMapKey("role"), knownvalue.StringExact("edit")),
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("service_account"), knownvalue.StringExact("pipeline-runner")),
					statecheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("resource_quota").AtMapKey("gpu"), knownvalue.Int64Exact(8)),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNamespace(name, func(ns *corev1.Namespace) error {
						want := map[string]string{"team": "vision", "istio-injection": "enabled", managedByLabel: managedByValue}
						for k, v := range want {
							if ns.Labels[k] != v {
								return fmt.Errorf("label %s = %q, want %q", k, ns.Labels[k], v)
							}
						}
						return nil
					}),
					checkBindingSubjects(name, ownerBinding, "admin", "User:alice@example.com"),
					checkBindingSubjects(name, "kfstack-edit", "edit", "User:bob@example.com"),
					checkBindingSubjects(name, "kfstack-view", "view", "Group:ml-readers"),
					checkBindingSubjects(name, runnerBinding, "edit", "ServiceAccount:pipeline-runner"),
					checkQuota(name, map[string]string{
						"requests.cpu": "64", "requests.memory": "256Gi", "requests.nvidia.com/gpu": "8",
						"requests.google.com/tpu": "4", "pods": "100", "persistentvolumeclaims": "10",
					}),
					func(*terraform.State) error {
						sa, err := testCluster.Client.CoreV1().ServiceAccounts(name).Get(context.Background(), "pipeline-runner", metav1.GetOptions{})
						if err != nil {
							return err
						}
						if got := sa.Annotations[gsaAnnotation]; got != "runner@my-project.iam.gserviceaccount.com" {
							return fmt.Errorf("workload identity annotation = %q", got)
						}
						lr, err := testCluster.Client.CoreV1().LimitRanges(name).Get(context.Background(), limitRangeName, metav1.GetOptions{})
						if err != nil {
							return err
						}
						if got := lr.Spec.Limits[0].DefaultRequest.Cpu().String(); got != "500m" {
							return fmt.Errorf("default CPU request = %s, want 500m", got)
						}
						return nil
					},
				),
			},
			{
				ResourceName:      "kubeflow_profile.test",
				ImportState:       true,
				ImportStateId:     name,
				ImportStateVerify: true,
				// On import nothing says which labels and annotations are
				// the configuration's, so none are claimed.
				ImportStateVerifyIgnore: []string{"labels", "annotations", "timeouts"},
			},
		},
	})
}

func TestAccProfile_update(t *testing.T) {
	name := uniqueName("update")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{
			{
				Config: profileConfig(name, `
  owner        = { name = "alice@example.com" }
  contributors = [{ name = "bob@example.com" }]
  resource_quota = { gpu = 2 }
`),
				Check: resource.ComposeTestCheckFunc(
					checkBindingSubjects(name, ownerBinding, "admin", "User:alice@example.com"),
					rememberNamespaceUID(name),
				),
			},
			{
				// A new owner, a contributor moved to view, another added,
				// the quota changed and default limits added: all in place.
				Config: profileConfig(name, `
  owner = { name = "platform-admins", kind = "group" }
  contributors = [
    { name = "bob@example.com", role = "view" },
    { name = "carol@example.com" },
  ]
  resource_quota = { gpu = 4, cpu = "1000m" }
  default_limits = { cpu = "1" }
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					checkBindingSubjects(name, ownerBinding, "admin", "Group:platform-admins"),
					checkBindingSubjects(name, "kfstack-edit", "edit", "User:carol@example.com"),
					checkBindingSubjects(name, "kfstack-view", "view", "User:bob@example.com"),
					checkQuota(name, map[string]string{"requests.nvidia.com/gpu": "4", "requests.cpu": "1"}),
					checkNamespaceUIDUnchanged(name),
				),
			},
			{
				// Removing the contributors and the quota deletes what held them.
				Config: profileConfig(name, `
  owner = { name = "platform-admins", kind = "group" }
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(
					checkObjectGone(name, "rolebinding", "kfstack-edit"),
					checkObjectGone(name, "rolebinding", "kfstack-view"),
					checkObjectGone(name, "resourcequota", quotaName),
					checkObjectGone(name, "limitrange", limitRangeName),
					checkNamespaceUIDUnchanged(name),
				),
			},
		},
	})
}

func TestAccProfile_disappears(t *testing.T) {
	name := uniqueName("gone")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{
			{
				Config:             profileConfig(name, `owner = { name = "alice@example.com" }`),
				Check:              deleteNamespaceOutOfBand(name),
				ExpectNonEmptyPlan: true,
			},
			{
				// The next plan recreates it.
				Config: profileConfig(name, `owner = { name = "alice@example.com" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionCreate)},
				},
				Check: checkBindingSubjects(name, ownerBinding, "admin", "User:alice@example.com"),
			},
		},
	})
}

func TestAccProfile_drift(t *testing.T) {
	name := uniqueName("drift")
	config := profileConfig(name, `
  owner          = { name = "alice@example.com" }
  contributors   = [{ name = "bob@example.com" }]
  resource_quota = { gpu = 2, memory = "64Gi" }
`)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{
			{Config: config},
			{
				// Someone raises the quota and deletes a binding by hand:
				// the plan shows an update that puts both back.
				PreConfig: func() {
					quotas := testCluster.Client.CoreV1().ResourceQuotas(name)
					q, err := quotas.Get(ctx, quotaName, metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					q.Spec.Hard["requests.nvidia.com/gpu"] = k8sresource.MustParse("16")
					if _, err := quotas.Update(ctx, q, metav1.UpdateOptions{}); err != nil {
						t.Fatal(err)
					}
					if err := testCluster.Client.RbacV1().RoleBindings(name).Delete(ctx, "kfstack-edit", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue("kubeflow_profile.test", tfjsonpath.New("resource_quota").AtMapKey("gpu"), knownvalue.Int64Exact(2)),
					},
				},
				Check: resource.ComposeTestCheckFunc(
					checkQuota(name, map[string]string{"requests.nvidia.com/gpu": "2", "requests.memory": "64Gi"}),
					checkBindingSubjects(name, "kfstack-edit", "edit", "User:bob@example.com"),
				),
			},
		},
	})
}

func TestAccProfile_existingNamespaceIsNotAdopted(t *testing.T) {
	name := uniqueName("taken")
	ctx := context.Background()
	if _, err := testCluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testCluster.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}) })
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      profileConfig(name, `owner = { name = "alice@example.com" }`),
			ExpectError: wrappedError(`namespace "` + name + `" already exists; to manage it as a profile, import it`),
		}},
	})
	ns, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the existing namespace must be left alone: %v", err)
	}
	if ns.Labels[managedByLabel] != "" {
		t.Fatalf("the existing namespace was labelled: %v", ns.Labels)
	}
}

func TestAccProfile_badInput(t *testing.T) {
	cases := []struct {
		name, body string
		profile    string
		want       string
	}{
		{"invalid name", `owner = { name = "a" }`, "Team_A", `name: "Team_A" is not a valid name`},
		{"name too long", `owner = { name = "a" }`, strings.Repeat("a", 64), `is not a valid name`},
		{"negative cpu quota", `
  owner          = { name = "a" }
  resource_quota = { cpu = "-1" }`, "", `resource_quota.cpu: "-1" is negative`},
		{"negative gpu quota", `
  owner          = { name = "a" }
  resource_quota = { gpu = -2 }`, "", `resource_quota.gpu value must be at least 0, got: -2`},
		{"not a quantity", `
  owner          = { name = "a" }
  resource_quota = { memory = "lots" }`, "", `resource_quota.memory: "lots" is not a quantity`},
		{"negative free-form quota", `
  owner          = { name = "a" }
  resource_quota = { hard = { "requests.storage" = "-5Gi" } }`, "", `resource_quota.hard\["requests.storage"\]`},
		{"unknown role", `
  owner        = { name = "a" }
  contributors = [{ name = "b", role = "admin" }]`, "", `contributors\[0\].role value must be one of: \["edit" "view"\], got: "admin"`},
		{"unknown kind", `
  owner = { name = "a", kind = "robot" }`, "", `owner.kind value must be one of: \["user" "group"\], got: "robot"`},
		{"owner also contributor", `
  owner        = { name = "a" }
  contributors = [{ name = "a" }]`, "", `contributors\[0\].name: "a" is already the owner`},
		{"request above limit", `
  owner          = { name = "a" }
  default_limits = { cpu = "1", request_cpu = "2" }`, "", `default_limits.request_cpu \(2\) is more than default_limits.cpu \(1\)`},
		{"bad label key", `
  owner  = { name = "a" }
  labels = { "bad key!" = "x" }`, "", `labels\["bad key!"\]: not a valid key`},
		{"bad label value", `
  owner  = { name = "a" }
  labels = { team = "not ok!" }`, "", `labels\["team"\]: "not ok!": a valid label must be`},
		{"bad service account email", `
  owner                 = { name = "a" }
  workload_identity_gsa = "not-an-email"`, "", `workload_identity_gsa must be a Google service account email`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.profile
			if name == "" {
				name = uniqueName("bad")
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      profileConfig(name, tc.body),
					ExpectError: wrappedError(tc.want),
				}},
			})
			// Nothing was created.
			if err := checkNamespaceGone(name)(nil); err != nil && validNamespace(name) {
				t.Fatal(err)
			}
		})
	}
}

// wrappedError matches an error message that Terraform may have wrapped
// over several lines: every space in pattern matches any white space.
func wrappedError(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, " ", `\s+`))
}

func validNamespace(name string) bool { return len(name) <= 63 && strings.ToLower(name) == name }

// TestAccProfile_unreachableCluster shows the error a user meets when the
// cluster cannot be reached: the address and the cause, no client-go stack.
func TestAccProfile_unreachableCluster(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: `
provider "kubeflow" {
  host     = "https://127.0.0.1:1"
  token    = "not-a-secret"
  insecure = true
}
resource "kubeflow_profile" "test" {
  name  = "unreachable"
  owner = { name = "alice@example.com" }
}
`,
			ExpectError: wrappedError(`cannot reach cluster at https://127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused`),
		}},
	})
}

func TestAccProfile_untrustedCertificate(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "kubeflow" {
  host  = %q
  token = %q
}
resource "kubeflow_profile" "test" {
  name  = "untrusted"
  owner = { name = "alice@example.com" }
}
`, testCluster.Host, testCluster.Token),
			ExpectError: wrappedError(`cannot reach cluster at ` + testCluster.Host + `: its certificate is signed by an unknown authority`),
		}},
	})
}

func TestAccProfile_rejectedToken(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "kubeflow" {
  host                   = %q
  cluster_ca_certificate = %q
  token                  = "wrong-token"
}
resource "kubeflow_profile" "test" {
  name  = "rejected"
  owner = { name = "alice@example.com" }
}
`, testCluster.Host, string(testCluster.CACert)),
			ExpectError: wrappedError(`the cluster at ` + testCluster.Host + ` rejected the credentials`),
		}},
	})
}

// TestAccProvider_unknownConnection is the one-apply case: the connection
// values come from a resource whose outputs are known only after apply, as a
// cluster's endpoint is when the cluster is created in the same apply. The
// plan must succeed without contacting the cluster, and the profile is
// created in the same apply.
func TestAccProvider_unknownConnection(t *testing.T) {
	name := uniqueName("oneapply")
	config := fmt.Sprintf(`
resource "terraform_data" "cluster" {
  input = {
    host  = %q
    ca    = %q
    token = %q
  }
}

provider "kubeflow" {
  host                   = terraform_data.cluster.output.host
  cluster_ca_certificate = terraform_data.cluster.output.ca
  token                  = terraform_data.cluster.output.token
}

resource "kubeflow_profile" "test" {
  name           = %q
  owner          = { name = "alice@example.com" }
  resource_quota = { gpu = 1 }
}
`, testCluster.Host, string(testCluster.CACert), testCluster.Token, name)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("terraform_data.cluster", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("kubeflow_profile.test", plancheck.ResourceActionCreate),
				},
			},
			Check: checkBindingSubjects(name, ownerBinding, "admin", "User:alice@example.com"),
		}},
	})
}

// TestAccProvider_clientCertificate connects with the attributes of a
// client certificate instead of a kubeconfig.
func TestAccProvider_clientCertificate(t *testing.T) {
	name := uniqueName("certauth")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "kubeflow" {
  host                   = %q
  cluster_ca_certificate = %q
  client_certificate     = %q
  client_key             = %q
}
resource "kubeflow_profile" "test" {
  name  = %q
  owner = { name = "alice@example.com" }
}
`, testCluster.Host, testCluster.CACert, testCluster.ClientCert, testCluster.ClientKey, name),
			Check: checkBindingSubjects(name, ownerBinding, "admin", "User:alice@example.com"),
		}},
	})
}

func checkNamespace(name string, check func(*corev1.Namespace) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ns, err := testCluster.Client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return check(ns)
	}
}

var namespaceUIDs = map[string]string{}

func rememberNamespaceUID(name string) resource.TestCheckFunc {
	return checkNamespace(name, func(ns *corev1.Namespace) error {
		namespaceUIDs[name] = string(ns.UID)
		return nil
	})
}

// checkNamespaceUIDUnchanged proves an update happened in place.
func checkNamespaceUIDUnchanged(name string) resource.TestCheckFunc {
	return checkNamespace(name, func(ns *corev1.Namespace) error {
		if string(ns.UID) != namespaceUIDs[name] {
			return fmt.Errorf("namespace %s was recreated (uid %s, was %s)", name, ns.UID, namespaceUIDs[name])
		}
		return nil
	})
}

func checkBindingSubjects(ns, binding, role string, subjects ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, err := testCluster.Client.RbacV1().RoleBindings(ns).Get(context.Background(), binding, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("RoleBinding %s/%s: %w", ns, binding, err)
		}
		if b.RoleRef.Name != role {
			return fmt.Errorf("RoleBinding %s refers to %s, want %s", binding, b.RoleRef.Name, role)
		}
		var got []string
		for _, s := range b.Subjects {
			got = append(got, s.Kind+":"+s.Name)
		}
		if !slices.Equal(got, subjects) {
			return fmt.Errorf("RoleBinding %s subjects = %v, want %v", binding, got, subjects)
		}
		return nil
	}
}

func checkQuota(ns string, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		q, err := testCluster.Client.CoreV1().ResourceQuotas(ns).Get(context.Background(), quotaName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(q.Spec.Hard) != len(want) {
			return fmt.Errorf("quota hard = %v, want %v", q.Spec.Hard, want)
		}
		for k, v := range want {
			got := q.Spec.Hard[corev1.ResourceName(k)]
			if got.Cmp(k8sresource.MustParse(v)) != 0 {
				return fmt.Errorf("quota %s = %s, want %s", k, got.String(), v)
			}
		}
		return nil
	}
}

func checkObjectGone(ns, kind, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		var err error
		switch kind {
		case "rolebinding":
			_, err = testCluster.Client.RbacV1().RoleBindings(ns).Get(ctx, name, metav1.GetOptions{})
		case "resourcequota":
			_, err = testCluster.Client.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
		case "limitrange":
			_, err = testCluster.Client.CoreV1().LimitRanges(ns).Get(ctx, name, metav1.GetOptions{})
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s/%s still exists (err %w)", kind, ns, name, err)
		}
		return nil
	}
}

// checkNamespaceGone is a CheckDestroy: Delete waits until the namespace is
// gone, so it must be gone when Terraform says it is destroyed.
func checkNamespaceGone(name string) func(*terraform.State) error {
	return func(*terraform.State) error {
		_, err := testCluster.Client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace %s still exists (err %w)", name, err)
	}
}

func deleteNamespaceOutOfBand(name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		if err := testCluster.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return err
		}
		return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}
}
