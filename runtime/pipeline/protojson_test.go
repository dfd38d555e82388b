package pipeline

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// protoJSONSpec is a pipeline written in the proto3 JSON forms other
// writers than the KFP SDK use: snake_case field names, enums by number,
// 64-bit integers as strings, the deprecated Value and PrimitiveType forms.
const protoJSONSpec = `{
  "pipeline_info": {"name": "proto-forms"},
  "deployment_spec": {"executors": {"exec-a": {"container": {
    "image": "alpine", "command": ["echo", "{{$.inputs.parameters['n']}}"],
    "resources": {"cpu_limit": "1.5", "accelerator": {"type": "nvidia.com/gpu", "count": "2"}}}}}},
  "components": {"comp-a": {"executor_label": "exec-a",
    "input_definitions": {"parameters": {"n": {"type": "INT"}, "x": {"parameter_type": 1, "is_optional": true}}}}},
  "root": {"dag": {"tasks": {"a": {
      "component_ref": {"name": "comp-a"},
      "task_info": {"name": "a"},
      "inputs": {"parameters": {"n": {"runtime_value": {"constant_value": {"int_value": "7"}}}}},
      "retry_policy": {"max_retry_count": "3", "backoff_duration": "1s", "backoff_factor": "2"},
      "trigger_policy": {"strategy": 1}}}}},
  "schema_version": "2.1.0"
}
---
{"platforms": {"kubernetes": {"deployment_spec": {"executors": {"exec-a": {
  "active_deadline_seconds": "30",
  "node_selector": {"labels": {"pool": "gpu"}},
  "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "toleration_seconds": "60"}]}}}}}}
`

func TestProto3JSONForms(t *testing.T) {
	p, err := Load([]byte(protoJSONSpec))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Root.DAG.Task("a")
	if got := p.Components["comp-a"].Inputs.Parameters["n"].ParameterType; got != TypeInteger {
		t.Errorf("deprecated type INT read as %q", got)
	}
	if got := p.Components["comp-a"].Inputs.Parameters["x"].ParameterType; got != TypeDouble {
		t.Errorf("enum 1 read as %q, want NUMBER_DOUBLE", got)
	}
	if v := a.Spec.Inputs.Parameters["n"].RuntimeValue.Constant; v != 7.0 {
		t.Errorf("constant_value.int_value '7' read as %#v", v)
	}
	if a.Retry.MaxRetries != 3 || a.Retry.Factor != 2 {
		t.Errorf("retry %+v", a.Retry)
	}
	if a.Timeout.Seconds() != 30 {
		t.Errorf("active deadline %s", a.Timeout)
	}
	pl, err := TaskPlacement(a, nil)
	if err != nil || pl.CPU != "1.5" || pl.AcceleratorCount != 2 {
		t.Errorf("placement %+v, %v", pl, err)
	}
	pod, err := a.Kubernetes.Resolve(func(*InputParameterSpec) PlatformValue { return PlatformValue{} })
	if err != nil || pod.NodeSelector["pool"] != "gpu" || pod.Tolerations[0]["tolerationSeconds"] != 60.0 {
		t.Errorf("kubernetes config %+v, %v", pod, err)
	}
}

func TestPipelinePackages(t *testing.T) {
	spec := []byte(strings.Split(protoJSONSpec, "---")[0])
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("pipeline.json")
	_, _ = w.Write(spec)
	_ = zw.Close()
	if p, err := LoadFile("p.zip", z.Bytes()); err != nil || p.Name != "proto-forms" {
		t.Errorf("zip package: %v", err)
	}
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("hi"))
	_ = tw.WriteHeader(&tar.Header{Name: "pipeline.yaml", Mode: 0o644, Size: int64(len(spec)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(spec)
	_ = tw.Close()
	_ = gz.Close()
	if p, err := LoadFile("p.tar.gz", tgz.Bytes()); err != nil || p.Name != "proto-forms" {
		t.Errorf("tar.gz package: %v", err)
	}
	var two bytes.Buffer
	zw = zip.NewWriter(&two)
	for _, n := range []string{"a.yaml", "b.yaml"} {
		w, _ := zw.Create(n)
		_, _ = w.Write(spec)
	}
	_ = zw.Close()
	if _, err := LoadFile("two.zip", two.Bytes()); err == nil || !strings.Contains(err.Error(), "holds 2 pipeline files (a.yaml, b.yaml)") {
		t.Errorf("two files: %v", err)
	}
	if _, err := Load([]byte("\x89PNG\r\n\x1a\n....")); err == nil || !strings.Contains(err.Error(), "a PNG image") {
		t.Errorf("png: %v", err)
	}
}
