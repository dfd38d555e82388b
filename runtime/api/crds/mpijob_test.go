package crds_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/internal/mpitest"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// TestMPIJobCRDCoversUpstream compares the generated MPIJob CRD with
// kubeflow/mpi-operator's, field by field: every upstream field is there
// with the same type, format, list and map semantics and default; nothing
// upstream leaves optional is required; an upstream enum's values are all
// accepted. What ours adds is validation only (minimums, enums, patterns,
// CEL rules), listed at the end.
func TestMPIJobCRDCoversUpstream(t *testing.T) {
	upstream := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(mpitest.Read(t, "kubeflow.org_mpijobs.yaml"), upstream); err != nil {
		t.Fatal(err)
	}
	all, err := crds.All()
	if err != nil {
		t.Fatal(err)
	}
	var ours *apiextensionsv1.CustomResourceDefinition
	for _, c := range all {
		if c.Name == v2beta1.CRDName {
			ours = c
		}
	}
	if ours == nil {
		t.Fatalf("no CRD %s among the runtime's CRDs", v2beta1.CRDName)
	}
	if ours.Spec.Group != upstream.Spec.Group || ours.Spec.Names.Kind != upstream.Spec.Names.Kind ||
		ours.Spec.Names.Plural != upstream.Spec.Names.Plural || ours.Spec.Names.Singular != upstream.Spec.Names.Singular ||
		ours.Spec.Names.ListKind != upstream.Spec.Names.ListKind || ours.Spec.Scope != upstream.Spec.Scope {
		t.Errorf("names differ: ours %s %+v %s, upstream %s %+v %s", ours.Spec.Group, ours.Spec.Names, ours.Spec.Scope, upstream.Spec.Group, upstream.Spec.Names, upstream.Spec.Scope)
	}
	if len(ours.Spec.Versions) != 1 || len(upstream.Spec.Versions) != 1 {
		t.Fatalf("want one version each, got %d and %d", len(ours.Spec.Versions), len(upstream.Spec.Versions))
	}
	ov, uv := ours.Spec.Versions[0], upstream.Spec.Versions[0]
	if ov.Name != uv.Name || ov.Served != uv.Served || ov.Storage != uv.Storage {
		t.Errorf("version: ours %s served=%v storage=%v, upstream %s served=%v storage=%v", ov.Name, ov.Served, ov.Storage, uv.Name, uv.Served, uv.Storage)
	}
	if (ov.Subresources == nil || ov.Subresources.Status == nil) != (uv.Subresources == nil || uv.Subresources.Status == nil) {
		t.Errorf("status subresource differs")
	}
	c := &schemaComparison{}
	c.compare("", ov.Schema.OpenAPIV3Schema, uv.Schema.OpenAPIV3Schema)
	for _, p := range c.problems {
		t.Error(p)
	}
	if c.fields < 1000 {
		t.Errorf("compared only %d fields: the upstream schema did not load whole", c.fields)
	}
	sort.Strings(c.stricter)
	t.Logf("%d upstream fields present with the same type; validation added by ours:\n%s", c.fields, strings.Join(c.stricter, "\n"))
}

// goneFromPodAPI are fields of upstream's pod template (generated from an
// older k8s.io/api) that the Pod API of Kubernetes 1.37, which ours is
// generated from, no longer has: no Pod could carry them. Fields that the
// newer Pod API added are expected in ours.
var goneFromPodAPI = map[string]string{
	"workloadRef": "an alpha field of Kubernetes 1.35, replaced by schedulingGroup in 1.36 (k8s.io/api keeps it tombstoned)",
}

type schemaComparison struct {
	fields   int
	problems []string
	stricter []string
}

func (c *schemaComparison) fail(path, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: %s", orRoot(path), fmt.Sprintf(format, args...)))
}

func orRoot(p string) string {
	if p == "" {
		return "<root>"
	}
	return p
}

func (c *schemaComparison) compare(path string, ours, up *apiextensionsv1.JSONSchemaProps) {
	c.fields++
	if ours == nil {
		c.fail(path, "missing (upstream has type %q)", up.Type)
		return
	}
	if ours.Type != up.Type {
		c.fail(path, "type %q, upstream %q", ours.Type, up.Type)
	}
	if ours.Format != up.Format {
		c.fail(path, "format %q, upstream %q", ours.Format, up.Format)
	}
	if ours.XIntOrString != up.XIntOrString || ours.XEmbeddedResource != up.XEmbeddedResource ||
		!equalBool(ours.XPreserveUnknownFields, up.XPreserveUnknownFields) {
		c.fail(path, "x-kubernetes extensions differ")
	}
	if !equalString(ours.XListType, up.XListType) || !slices.Equal(ours.XListMapKeys, up.XListMapKeys) || !equalString(ours.XMapType, up.XMapType) {
		c.fail(path, "list or map semantics differ: ours %v %v %v, upstream %v %v %v", deref(ours.XListType), ours.XListMapKeys, deref(ours.XMapType), deref(up.XListType), up.XListMapKeys, deref(up.XMapType))
	}
	switch {
	case up.Default == nil && ours.Default != nil:
		c.fail(path, "ours defaults to %s, upstream has no default", ours.Default.Raw)
	case up.Default != nil && (ours.Default == nil || string(ours.Default.Raw) != string(up.Default.Raw)):
		c.fail(path, "default differs from upstream's %s", up.Default.Raw)
	}
	for _, r := range ours.Required {
		if !slices.Contains(up.Required, r) {
			c.fail(path, "ours requires %q, upstream does not", r)
		}
	}
	if len(up.Enum) > 0 || len(ours.Enum) > 0 {
		if len(ours.Enum) > 0 && len(up.Enum) == 0 {
			c.stricter = append(c.stricter, fmt.Sprintf("%s: enum %s", path, enumString(ours.Enum)))
		}
		for _, e := range up.Enum {
			if len(ours.Enum) > 0 && !slices.ContainsFunc(ours.Enum, func(o apiextensionsv1.JSON) bool { return string(o.Raw) == string(e.Raw) }) {
				c.fail(path, "upstream's enum value %s is not accepted", e.Raw)
			}
		}
	}
	if ours.Minimum != nil && up.Minimum == nil {
		c.stricter = append(c.stricter, fmt.Sprintf("%s: minimum %v", path, *ours.Minimum))
	}
	if ours.Pattern != up.Pattern {
		c.stricter = append(c.stricter, fmt.Sprintf("%s: pattern %s", path, ours.Pattern))
	}
	for _, v := range ours.XValidations {
		c.stricter = append(c.stricter, fmt.Sprintf("%s: CEL %q", orRoot(path), v.Message))
	}
	for name, p := range up.Properties {
		o, ok := ours.Properties[name]
		if !ok {
			c.fields++
			if why, ok := goneFromPodAPI[name]; ok && strings.HasSuffix(path, ".template.spec") {
				c.stricter = append(c.stricter, fmt.Sprintf("%s.%s: not in ours: %s", path, name, why))
				continue
			}
			c.fail(path+"."+name, "missing (upstream has type %q)", p.Type)
			continue
		}
		c.compare(path+"."+name, &o, &p)
	}
	for name := range ours.Properties {
		if _, ok := up.Properties[name]; !ok && !strings.Contains(path, ".template.spec") {
			c.fail(path+"."+name, "ours has a field upstream lacks")
		}
	}
	if (up.Items == nil) != (ours.Items == nil) {
		c.fail(path, "items differ")
	} else if up.Items != nil {
		c.compare(path+"[]", ours.Items.Schema, up.Items.Schema)
	}
	if (up.AdditionalProperties == nil) != (ours.AdditionalProperties == nil) {
		c.fail(path, "additionalProperties differ")
	} else if up.AdditionalProperties != nil {
		if up.AdditionalProperties.Schema != nil {
			c.compare(path+"[*]", ours.AdditionalProperties.Schema, up.AdditionalProperties.Schema)
		} else if up.AdditionalProperties.Allows != ours.AdditionalProperties.Allows {
			c.fail(path, "additionalProperties differ")
		}
	}
}

func equalBool(a, b *bool) bool     { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
func equalString(a, b *string) bool { return deref(a) == deref(b) }
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func enumString(values []apiextensionsv1.JSON) string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, string(v.Raw))
	}
	return strings.Join(out, ",")
}

// TestUpstreamExamplesDecode decodes upstream's example manifests strictly
// into our types: no field of theirs is unknown to ours.
func TestUpstreamExamplesDecode(t *testing.T) {
	for _, name := range mpitest.Examples {
		job := mpitest.Job(t, name)
		if errs := v2beta1.Validate(job); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs.ToAggregate())
		}
	}
}
