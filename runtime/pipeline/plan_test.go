package pipeline

import (
	"reflect"
	"testing"
	"time"
)

func TestPlatformSpecAndResources(t *testing.T) {
	src := fixture(t, "artifacts.yaml")
	p, err := Load([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	produce := p.Root.DAG.Task("produce")
	pod, err := produce.Kubernetes.Resolve(func(*InputParameterSpec) PlatformValue { return PlatformValue{} })
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}; !reflect.DeepEqual(pod.NodeSelector, want) {
		t.Errorf("node selector from the platform spec: %+v", pod.NodeSelector)
	}
	if want := []map[string]any{{"key": "nvidia.com/gpu", "operator": "Exists", "value": "", "effect": "NoSchedule"}}; !reflect.DeepEqual(pod.Tolerations, want) {
		t.Errorf("tolerations from the platform spec: %+v", pod.Tolerations)
	}
	if consume := p.Root.DAG.Task("consume"); consume.Kubernetes != nil {
		t.Errorf("consume got %+v", consume.Kubernetes)
	}
	if produce.Retry.MaxRetries != 2 || !produce.Cache {
		t.Errorf("produce retry %+v cache %v", produce.Retry, produce.Cache)
	}
	// Resources as the compiler writes them (string forms and accelerator).
	withResources := replaceOnce(t, src, "    exec-produce:\n      container:\n        image: alpine\n",
		"    exec-produce:\n      container:\n        image: alpine\n        resources:\n          resourceCpuLimit: 500m\n          resourceMemoryLimit: 4G\n          accelerator: {resourceType: nvidia.com/gpu, resourceCount: '2'}\n")
	p, err = Load([]byte(withResources))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := TaskPlacement(p.Root.DAG.Task("produce"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pl.CPU != "500m" || pl.Memory != "4G" || pl.AcceleratorType != "nvidia.com/gpu" || pl.AcceleratorCount != 2 {
		t.Errorf("resources %+v", pl)
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	t.Fatalf("%q not found", old)
	return ""
}

func TestRetryDelay(t *testing.T) {
	r := Retry{MaxRetries: 5, Backoff: time.Second, Factor: 3, MaxBackoff: 20 * time.Second}
	var got []time.Duration
	for n := 1; n <= 4; n++ {
		got = append(got, r.Delay(n))
	}
	want := []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 20 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	if (Retry{MaxRetries: 1}).Delay(1) != 0 {
		t.Error("no backoff means no delay")
	}
}

func TestJSONPipelineSpec(t *testing.T) {
	// KFP also writes the IR as JSON; the same parser reads it.
	json := `{"pipelineInfo": {"name": "j"}, "components": {"comp-a": {"executorLabel": "exec-a"}},
	  "deploymentSpec": {"executors": {"exec-a": {"container": {"image": "alpine", "command": ["echo", "{{$.pipeline_task_name}}"]}}}},
	  "root": {"dag": {"tasks": {"a": {"componentRef": {"name": "comp-a"}, "taskInfo": {"name": "a"}}}}},
	  "schemaVersion": "2.1.0"}`
	p, err := Load([]byte(json))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "j" || p.Root.DAG.Task("a") == nil {
		t.Errorf("plan %+v", p)
	}
}
