package crds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) {
		cluster = c
		scheme := runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			panic(err)
		}
		if err := apiextensionsv1.AddToScheme(scheme); err != nil {
			panic(err)
		}
		cl, err := client.New(c.Config, client.Options{Scheme: scheme})
		if err != nil {
			panic(err)
		}
		if err := crds.Install(context.Background(), cl, time.Minute); err != nil {
			panic(err)
		}
	})
}

// TestEveryRuleAcceptsObjectsWithoutOptionalFields writes, for every CRD
// in this folder and every CEL rule (x-kubernetes-validations) anywhere in
// its schema, objects as kubectl sends them: unstructured, with only the
// fields the YAML holds. From a schema-derived object with every field
// set, it drops each optional field under a rule (and, once, every
// optional field at all), then creates the object, updates its metadata
// and writes its status, as the controller does. A rule may refuse an
// object with its own message (exactly one of two fields, say), but it
// must never fail to evaluate ("no such key" when it reads an absent
// field, which made every status write of a kubectl-made PipelineRun
// fail). New CRDs are covered without a change here.
func TestEveryRuleAcceptsObjectsWithoutOptionalFields(t *testing.T) {
	all, err := crds.All()
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	ns := namespace(t, "rules")
	for _, crd := range all {
		for _, version := range crd.Spec.Versions {
			if !version.Served || version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
				continue
			}
			t.Run(crd.Spec.Names.Kind+"."+version.Name, func(t *testing.T) {
				root := version.Schema.OpenAPIV3Schema
				rules := collectRules(root, nil)
				if len(rules) == 0 {
					t.Skipf("%s has no CEL rules", crd.Name)
				}
				messages := map[string]bool{}
				for _, r := range rules {
					for _, v := range r.validations {
						messages[ruleMessage(v)] = true
					}
				}
				full := synthesize(t, root, nil, true)
				variants := []variant{{name: "every field set", object: full}}
				var optional [][]string
				for _, r := range rules {
					optional = append(optional, optionalPaths(root, r.path, 3)...)
				}
				optional = uniquePaths(optional)
				for _, p := range optional {
					obj := runtime.DeepCopyJSON(full)
					unstructured.RemoveNestedField(obj, p...)
					variants = append(variants, variant{name: "without " + strings.Join(p, "."), object: obj})
				}
				variants = append(variants, variant{name: "required fields only", object: synthesize(t, root, nil, false)})

				gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: version.Name, Resource: crd.Spec.Names.Plural}
				namespaced := crd.Spec.Scope == apiextensionsv1.NamespaceScoped
				accepted := 0
				for i, v := range variants {
					name := fmt.Sprintf("v%d", i)
					if ok := exercise(t, dyn, gvr, crd.Spec.Names.Kind, namespaced, ns, name, v, messages); ok {
						accepted++
					}
				}
				if accepted == 0 {
					t.Fatalf("no object made from %s's schema was accepted, so its rules were never exercised past creation: make synthesize produce a valid object for it", crd.Name)
				}
				n := 0
				for _, r := range rules {
					n += len(r.validations)
				}
				t.Logf("%d rules on %d schema nodes, %d optional fields under them, %d of %d objects accepted", n, len(rules), len(optional), accepted, len(variants))
			})
		}
	}
}

// TestPipelineRunSpecIsImmutableExceptCancel checks the transition rules
// themselves, with kubectl-shaped objects: once created, a run's spec may
// change only in cancel, whether a field is changed, added or removed.
func TestPipelineRunSpecIsImmutableExceptCancel(t *testing.T) {
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	ns := namespace(t, "immutable")
	runs := dyn.Resource(schema.GroupVersionResource{Group: "pipelines.kfstack.dev", Version: "v1alpha1", Resource: "pipelineruns"}).Namespace(ns)
	base := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "pipelines.kfstack.dev/v1alpha1", "kind": "PipelineRun",
			"metadata": map[string]any{"name": "r"},
			"spec":     map[string]any{"pipeline": "train", "parameters": map[string]any{"epochs": "3"}},
		}}
	}
	if _, err := runs.Create(ctx, base(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(spec map[string]any)
	}{
		{"pipeline", func(s map[string]any) { s["pipeline"] = "other" }},
		{"pipelineVersion", func(s map[string]any) { s["pipelineVersion"] = int64(2) }},
		{"parameters", func(s map[string]any) { s["parameters"] = map[string]any{"epochs": "4"} }},
		{"parameters", func(s map[string]any) { delete(s, "parameters") }},
		{"serviceAccountName", func(s map[string]any) { s["serviceAccountName"] = "admin" }},
		{"pipelineRoot", func(s map[string]any) { s["pipelineRoot"] = "s3://other/x" }},
		{"parallelism", func(s map[string]any) { s["parallelism"] = int64(3) }},
		{"timeout", func(s map[string]any) { s["timeout"] = "1h" }},
		{"executor", func(s map[string]any) { s["executor"] = "local" }},
	} {
		live, err := runs.Get(ctx, "r", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spec := live.Object["spec"].(map[string]any)
		tc.edit(spec)
		_, err = runs.Update(ctx, live, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec."+tc.field+": Forbidden: is immutable") {
			t.Errorf("changing spec.%s: %v, want it refused as immutable", tc.field, err)
		}
	}
	live, err := runs.Get(ctx, "r", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Object["spec"].(map[string]any)["cancel"] = true
	if _, err := runs.Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Errorf("cancelling: %v", err)
	}
	// An update that sends the defaulted zero value the typed Go client
	// writes (pipelineVersion: 0) equals the absent field.
	live, err = runs.Get(ctx, "r", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Object["spec"].(map[string]any)["pipelineVersion"] = int64(0)
	if _, err := runs.Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Errorf("sending pipelineVersion 0 for an absent one: %v", err)
	}
}

type variant struct {
	name   string
	object map[string]any
}

// exercise creates the variant, updates its metadata, writes its status
// and deletes it. It reports whether the object was accepted throughout;
// refusals are fine only when a rule refused with its own message.
func exercise(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, kind string, namespaced bool, ns, name string, v variant, messages map[string]bool) bool {
	t.Helper()
	ctx := context.Background()
	var res dynamic.ResourceInterface = dyn.Resource(gvr)
	if namespaced {
		res = dyn.Resource(gvr).Namespace(ns)
	}
	obj := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(v.object)}
	obj.SetAPIVersion(gvr.GroupVersion().String())
	obj.SetKind(kind)
	obj.SetName(name)
	status, hasStatus := obj.Object["status"]
	delete(obj.Object, "status")
	created, err := res.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		checkRefusal(t, v.name, "create", err, messages)
		return false
	}
	defer func() {
		if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("%s: deleting: %v", v.name, err)
		}
	}()
	// What kubectl label does: the whole object back, one label more.
	created.SetLabels(map[string]string{"kfstack.dev/test": "label"})
	updated, err := res.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Errorf("%s: updating metadata: %v", v.name, err)
		return false
	}
	if !hasStatus {
		return true
	}
	updated.Object["status"] = status
	if _, err := res.UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		checkRefusal(t, v.name, "status update", err, messages)
		return false
	}
	return true
}

// checkRefusal fails unless every cause of err is a rule that evaluated
// to false with its declared message.
func checkRefusal(t *testing.T, name, what string, err error, messages map[string]bool) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		t.Errorf("%s: %s: %v", name, what, err)
		return
	}
	for _, cause := range status.Status().Details.Causes {
		declared := false
		for m := range messages {
			if cause.Message == m || strings.HasSuffix(cause.Message, ": "+m) {
				declared = true
			}
		}
		if !declared || strings.Contains(cause.Message, "evaluating rule") || strings.Contains(cause.Message, "did not match a supported operator") {
			t.Errorf("%s: %s refused by something other than a rule's own message: %s: %s", name, what, cause.Field, cause.Message)
		}
	}
}

func ruleMessage(v apiextensionsv1.ValidationRule) string {
	if v.Message != "" {
		return v.Message
	}
	return "failed rule: " + v.Rule
}

type ruleNode struct {
	path        []string
	validations apiextensionsv1.ValidationRules
}

// collectRules finds every schema node that carries CEL rules; paths go
// through object properties only (rules under arrays and maps are reached
// by the items the synthesized object holds, one of each).
func collectRules(s *apiextensionsv1.JSONSchemaProps, path []string) []ruleNode {
	var out []ruleNode
	if len(s.XValidations) > 0 {
		out = append(out, ruleNode{path: slices.Clone(path), validations: s.XValidations})
	}
	for _, name := range sortedKeys(s.Properties) {
		if len(path) == 0 && (name == "metadata" || name == "apiVersion" || name == "kind") {
			continue
		}
		prop := s.Properties[name]
		out = append(out, collectRules(&prop, append(path, name))...)
	}
	return out
}

// optionalPaths lists the optional fields at path and up to depth levels
// below it (path itself when it is optional).
func optionalPaths(root *apiextensionsv1.JSONSchemaProps, path []string, depth int) [][]string {
	var out [][]string
	node, parent := root, (*apiextensionsv1.JSONSchemaProps)(nil)
	for _, p := range path {
		parent = node
		next := node.Properties[p]
		node = &next
	}
	if parent != nil && !slices.Contains(parent.Required, path[len(path)-1]) {
		out = append(out, slices.Clone(path))
	}
	var walk func(s *apiextensionsv1.JSONSchemaProps, at []string, left int)
	walk = func(s *apiextensionsv1.JSONSchemaProps, at []string, left int) {
		if left == 0 {
			return
		}
		for _, name := range sortedKeys(s.Properties) {
			prop := s.Properties[name]
			child := append(slices.Clone(at), name)
			if !slices.Contains(s.Required, name) {
				out = append(out, child)
			}
			walk(&prop, child, left-1)
		}
	}
	walk(node, path, depth)
	return out
}

func uniquePaths(paths [][]string) [][]string {
	seen := map[string]bool{}
	var out [][]string
	for _, p := range paths {
		k := strings.Join(p, "\x00")
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// synthesize makes a value that the schema accepts, with every optional
// field (all) or with the required ones only.
func synthesize(t *testing.T, s *apiextensionsv1.JSONSchemaProps, path []string, all bool) map[string]any {
	t.Helper()
	v, ok := value(t, s, path, all).(map[string]any)
	if !ok {
		t.Fatalf("the schema's root is not an object")
	}
	return v
}

func value(t *testing.T, s *apiextensionsv1.JSONSchemaProps, path []string, all bool) any {
	t.Helper()
	at := strings.Join(path, ".")
	switch {
	case s.XIntOrString:
		return int64(1)
	case len(s.Enum) > 0:
		var v any
		if err := json.Unmarshal(s.Enum[0].Raw, &v); err != nil {
			t.Fatalf("%s: enum: %v", at, err)
		}
		return v
	}
	switch s.Type {
	case "object", "":
		out := map[string]any{}
		for _, name := range sortedKeys(s.Properties) {
			if len(path) == 0 && (name == "metadata" || name == "apiVersion" || name == "kind") {
				continue
			}
			if !all && !slices.Contains(s.Required, name) {
				continue
			}
			prop := s.Properties[name]
			out[name] = value(t, &prop, append(path, name), all)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil && (all || (s.MinProperties != nil && *s.MinProperties > 0)) {
			out["key"] = value(t, s.AdditionalProperties.Schema, append(path, "key"), all)
		}
		return out
	case "array":
		n := int64(1)
		if !all {
			n = 0
		}
		if s.MinItems != nil && *s.MinItems > n {
			n = *s.MinItems
		}
		out := []any{}
		if s.Items != nil && s.Items.Schema != nil {
			for i := int64(0); i < n; i++ {
				out = append(out, value(t, s.Items.Schema, append(path, "0"), all))
			}
		}
		return out
	case "string":
		return stringValue(t, s, at)
	case "integer", "number":
		n := int64(1)
		if s.Minimum != nil && int64(*s.Minimum) > n {
			n = int64(*s.Minimum)
		}
		if s.Maximum != nil && int64(*s.Maximum) < n {
			n = int64(*s.Maximum)
		}
		return n
	case "boolean":
		return true
	}
	t.Fatalf("%s: cannot make a value of type %q", at, s.Type)
	return nil
}

func stringValue(t *testing.T, s *apiextensionsv1.JSONSchemaProps, at string) string {
	t.Helper()
	switch s.Format {
	case "date-time":
		return "2026-01-02T03:04:05Z"
	case "date":
		return "2026-01-02"
	case "duration":
		return "1h"
	case "byte":
		return "YQ=="
	case "int-or-string":
		return "1"
	}
	candidates := []string{"a", "A", "a1", "abc", "1", "a-b", "a.b", "a/b", "1h", "v1", "/a"}
	if s.MinLength != nil && *s.MinLength > 1 {
		candidates = []string{strings.Repeat("a", int(*s.MinLength))}
	}
	for _, c := range candidates {
		if s.MaxLength != nil && int64(len(c)) > *s.MaxLength {
			continue
		}
		if s.Pattern != "" {
			re, err := regexp.Compile(s.Pattern)
			if err != nil {
				t.Fatalf("%s: pattern %q: %v", at, s.Pattern, err)
			}
			if !re.MatchString(c) {
				continue
			}
		}
		return c
	}
	t.Fatalf("%s: no candidate value matches pattern %q: add one to stringValue", at, s.Pattern)
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1000000)
	_, err := cluster.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}
