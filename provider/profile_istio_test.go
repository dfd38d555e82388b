package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

var crdResource = k8sschema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installIstioAuthorizationPolicyCRD installs the AuthorizationPolicy CRD
// from Istio's real base chart, and removes it when the test ends.
func installIstioAuthorizationPolicyCRD(t *testing.T) dynamic.Interface {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "upstream", "istio", "1.29.6", "base", "files", "crd-all.gen.yaml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("skipping: %s is absent (Istio's CRDs come from ../shared/upstream, outside this repository)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var crd *unstructured.Unstructured
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetName() == "authorizationpolicies.security.istio.io" {
			crd = u
		}
	}
	if crd == nil {
		t.Fatalf("no AuthorizationPolicy CRD in %s", path)
	}
	client, err := dynamic.NewForConfig(testCluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	crds := client.Resource(crdResource)
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = crds.Delete(ctx, crd.GetName(), metav1.DeleteOptions{})
		_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
			return err != nil, nil
		})
	})
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conditions {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the AuthorizationPolicy CRD: %v", err)
	}
	return client
}

func TestAccProfile_istioAuthorizationPolicy(t *testing.T) {
	client := installIstioAuthorizationPolicyCRD(t)
	name := uniqueName("istio")
	policies := client.Resource(k8sschema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}).Namespace(name)
	checkPolicy := func(users, groups []string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			p, err := policies.Get(context.Background(), authzPolicyName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "rules")
			var gotUsers, gotGroups []string
			var sources []string
			for _, r := range rules {
				rule := r.(map[string]any)
				for _, w := range asSlice(rule["when"]) {
					cond := w.(map[string]any)
					for _, v := range asSlice(cond["values"]) {
						switch cond["key"] {
						case "request.headers[kubeflow-userid]":
							gotUsers = append(gotUsers, v.(string))
						case "request.auth.claims[groups]":
							gotGroups = append(gotGroups, v.(string))
						}
					}
				}
				for _, f := range asSlice(rule["from"]) {
					ns, _, _ := unstructured.NestedStringSlice(f.(map[string]any), "source", "namespaces")
					sources = append(sources, ns...)
				}
			}
			if !slices.Equal(gotUsers, users) || !slices.Equal(gotGroups, groups) || !slices.Equal(sources, []string{name}) {
				return fmt.Errorf("policy admits users %v, groups %v, namespaces %v; want %v, %v, [%s]", gotUsers, gotGroups, sources, users, groups, name)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy:             checkNamespaceGone(name),
		Steps: []resource.TestStep{
			{
				Config: profileConfig(name, `
  owner           = { name = "alice@example.com" }
  contributors    = [{ name = "bob@example.com" }, { name = "ml-readers", kind = "group", role = "view" }]
  istio_injection = true
`),
				Check: checkPolicy([]string{"alice@example.com", "bob@example.com"}, []string{"ml-readers"}),
			},
			{
				Config: profileConfig(name, `
  owner           = { name = "carol@example.com" }
  istio_injection = true
`),
				Check: checkPolicy([]string{"carol@example.com"}, nil),
			},
		},
	})
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
