package controller_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// pythonFunctions simulate the Python functions of the shared KFP
// pipelines (and the one jq container component among them): what each
// would return for its inputs, as the KFP executor reports a return value
// in the output parameter "Output". A nil result means no outputs.
var pythonFunctions = map[string]func(in map[string]any) (any, error){
	"add_numbers": func(in map[string]any) (any, error) { return num(in["a"]) + num(in["b"]), nil },
	"add": func(in map[string]any) (any, error) {
		if nums, ok := in["nums"].([]any); ok { // critical_parameters_simple
			sum := 0.0
			for _, n := range nums {
				sum += num(n)
			}
			return sum, nil
		}
		return num(in["a"]) + num(in["b"]), nil // critical_pipeline_with_retry
	},
	"double":            func(in map[string]any) (any, error) { return 2 * num(in["num"]), nil },
	"split_ids":         func(in map[string]any) (any, error) { return toAny(strings.Split(fmt.Sprint(in["ids"]), ",")), nil },
	"prepend_id":        func(in map[string]any) (any, error) { return "model_id_" + fmt.Sprint(in["content"]), nil },
	"consume_ids":       func(map[string]any) (any, error) { return "completed", nil },
	"consume_single_id": func(map[string]any) (any, error) { return "completed", nil },
	"flip_coin":         func(map[string]any) (any, error) { return "heads", nil },
	"random_num":        func(in map[string]any) (any, error) { return num(in["low"]), nil },
	"echo":              func(in map[string]any) (any, error) { return in["message"], nil },
	"record_exit": func(in map[string]any) (any, error) {
		st, ok := in["status"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("status is %T, not a PipelineTaskFinalStatus", in["status"])
		}
		return fmt.Sprintf("exit:%v", st["state"]), nil
	},
	"print_op1": func(in map[string]any) (any, error) { return in["msg"], nil },
	"args_generator_op": func(map[string]any) (any, error) {
		return []any{map[string]any{"A_a": "1", "B_b": "2"}, map[string]any{"A_a": "10", "B_b": "20"}}, nil
	},
	"print_msg":    noOutputs,
	"print_op2":    noOutputs,
	"print_struct": noOutputs,
	"print_text":   noOutputs,
}

func noOutputs(map[string]any) (any, error) { return nil, nil }

func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	}
	var f float64
	_, _ = fmt.Sscan(fmt.Sprint(v), &f)
	return f
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// functionOf names the Python function a KFP lightweight component runs.
func functionOf(spec *launcher.TaskSpec) string {
	args := spec.Container.Args
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--function_to_execute" {
			return args[i+1]
		}
	}
	return ""
}

// kfpProgram plays the programs of the shared KFP pipelines: Python
// functions by name, the jq component by its image. The first attempt of
// the retry pipeline's task fails with exit code 1, as a flaky program
// would. seen records each task's inputs by "<pipeline>/<task path>".
func kfpProgram(seen *sync.Map) outcome {
	return func(spec *launcher.TaskSpec, attempt int) (launcher.Message, int) {
		seen.Store(spec.PipelineName+"/"+spec.Path, spec.Params)
		if spec.PipelineName == "test-pipeline" && attempt == 1 {
			return launcher.Message{Error: "running python3: exit status 1", LogTail: "ConnectionResetError: [Errno 104]\n"}, 1
		}
		fn := functionOf(spec)
		var out map[string]any
		switch {
		case fn != "":
			f, ok := pythonFunctions[fn]
			if !ok {
				return launcher.Message{Error: "no simulation of Python function " + fn}, 1
			}
			v, err := f(spec.Params)
			if err != nil {
				return launcher.Message{Error: err.Error()}, 1
			}
			if v != nil {
				out = map[string]any{"Output": v}
			}
		case strings.Contains(spec.Container.Image, "jq"): // echo nums | jq add
			sum := 0.0
			for _, n := range spec.Params["nums"].([]any) {
				sum += num(n)
			}
			out = map[string]any{"sum": sum}
		case len(spec.Outputs.Parameters)+len(spec.Outputs.Artifacts) > 0:
			return launcher.Message{Error: "no simulation of image " + spec.Container.Image}, 1
		}
		// Otherwise a container that only prints (echo in alpine).
		return launcher.Message{Params: out}, 0
	}
}

// TestPodSharedPythonPipelines runs every Python-component pipeline of the
// shared KFP test data with the pod executor: a pod per task on the KWOK
// nodes, KWOK's stage ending it with the termination message the launcher
// would write for the simulated function's result. Loops, collected
// outputs, conditions, nested pipelines, an exit handler and a retried
// failure all go through pods.
func TestPodSharedPythonPipelines(t *testing.T) {
	dir := sharedKFP(t)
	ns := namespace(t)
	var seen sync.Map
	startPrograms(t, ns, kfpProgram(&seen))
	params := map[string]map[string]string{
		"critical_add_numbers.yaml": {"a": "3", "b": "4"},
	}
	outputs := map[string]map[string]string{
		"critical_add_numbers.yaml":       {"Output": "7"},
		"critical_parameters_simple.yaml": {"Output": "[2,4,6]"},
	}
	root := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var runs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "kfp.dsl.executor_main") {
			continue // container components: TestLocalSharedContainerPipelines
		}
		name := strings.ReplaceAll(strings.TrimSuffix(filepath.Base(f), ".yaml"), "_", "-")
		createPipeline(t, ns, name, string(b), "")
		// A root of its own: the cache must not serve a result of an
		// earlier test in the process (-count=2).
		createRun(t, ns, name, name, v1alpha1.ExecutorPod, params[filepath.Base(f)], func(r *v1alpha1.PipelineRun) { r.Spec.PipelineRoot = "file://" + root })
		runs = append(runs, filepath.Base(f))
	}
	if len(runs) < 8 {
		t.Errorf("found %d Python-component pipelines, want at least 8", len(runs))
	}
	start := time.Now()
	for _, f := range runs {
		name := strings.ReplaceAll(strings.TrimSuffix(f, ".yaml"), "_", "-")
		r := waitRun(t, ns, name, 2*time.Minute)
		if r.Status.Phase != v1alpha1.RunSucceeded {
			t.Errorf("%s: %s", f, describe(r))
			continue
		}
		for k, v := range outputs[f] {
			if got := r.Status.Outputs[k]; got != v {
				t.Errorf("%s: output %s = %s, want %s", f, k, got, v)
			}
		}
		if r.Status.Tasks["Succeeded"] == 0 || r.Status.Tasks["Failed"] != 0 {
			t.Errorf("%s: tasks %v", f, r.Status.Tasks)
		}
		if f == "critical_pipeline_with_retry.yaml" {
			// The first attempt's pod failed with the program's exit code;
			// the retry ran in a second pod.
			pods := &corev1.PodList{}
			if err := k8s.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelRunUID: string(r.UID)}); err != nil {
				t.Fatal(err)
			}
			var phases []string
			for _, p := range pods.Items {
				code := int32(-1)
				if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Terminated != nil {
					code = cs[0].State.Terminated.ExitCode
				}
				phases = append(phases, fmt.Sprintf("%s attempt %s %s exit %d", p.Annotations[v1alpha1.AnnotationTask], p.Labels[v1alpha1.LabelAttempt], p.Status.Phase, code))
			}
			sort.Strings(phases)
			if w := []string{"add attempt 1 Failed exit 1", "add attempt 2 Succeeded exit 0"}; !slices.Equal(phases, w) {
				t.Errorf("%s: pods %v, want %v", f, phases, w)
			}
		}
	}
	t.Logf("%d Python-component pipelines ran on pods in %s", len(runs), time.Since(start).Round(time.Millisecond))

	// What the simulated programs received shows that outputs travelled
	// through termination messages between pods.
	want := map[string]string{
		"math-pipeline/add": "map[nums:[2 4 6]]",
		"collected-param-pipeline/collecting-parameters/consume-ids": "map[ids:[model_id_s1 model_id_s2 model_id_s3]]",
		"pipeline-with-exit-handler/record-exit":                     "state:SUCCEEDED",
	}
	for task, w := range want {
		v, ok := seen.Load(task)
		if !ok {
			var tasks []string
			seen.Range(func(k, _ any) bool { tasks = append(tasks, k.(string)); return true })
			t.Errorf("task %s never ran (ran: %v)", task, tasks)
			continue
		}
		if got := fmt.Sprint(v); !strings.Contains(got, w) {
			t.Errorf("task %s received %s, want %s in it", task, got, w)
		}
	}
}
