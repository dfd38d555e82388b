package pipeline

import (
	"strings"
	"testing"
)

// TestHostileNamesRefused: names that become file path elements (the
// pipeline's, a task's, an input's or an output's) cannot climb out of
// their directory; compiling refuses them, naming the field, so the
// CLI's validate, kubeflow_pipeline's plan and the admission webhook
// refuse them too.
func TestHostileNamesRefused(t *testing.T) {
	const art = "artifacts.yaml"
	for _, tc := range []struct {
		name, old, new string
		task, field    string
	}{
		{"pipeline name", "  name: artifacts\n", "  name: ../../etc\n", "", "pipelineInfo.name"},
		{"task name", "    tasks:\n      produce:\n", "    tasks:\n      ../produce:\n", "../produce", "name"},
		{"absolute task name", "    tasks:\n      produce:\n", "    tasks:\n      /etc/produce:\n", "/etc/produce", "name"},
		{"output artifact name", "      artifacts:\n        report:\n          artifactType: {schemaTitle: system.Artifact, schemaVersion: 0.0.1}\n      parameters:\n        summary: {parameterType: STRING}\ndeploymentSpec:",
			"      artifacts:\n        ../../report:\n          artifactType: {schemaTitle: system.Artifact, schemaVersion: 0.0.1}\n      parameters:\n        summary: {parameterType: STRING}\ndeploymentSpec:", "consume", `outputDefinitions.artifacts["../../report"]`},
		{"output parameter name", "      parameters:\n        summary: {parameterType: STRING}\ndeploymentSpec:", "      parameters:\n        a/b: {parameterType: STRING}\ndeploymentSpec:", "consume", `outputDefinitions.parameters["a/b"]`},
		{"input artifact name", "    inputDefinitions:\n      artifacts:\n        data:\n", "    inputDefinitions:\n      artifacts:\n        ..:\n", "consume", `inputDefinitions.artifacts[".."]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fixture(t, art)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := Load([]byte(strings.Replace(src, tc.old, tc.new, 1)))
			for _, fe := range AsErrorList(err) {
				if fe.Task == tc.task && fe.Field == tc.field && strings.Contains(fe.Err.Error(), "file path element") {
					return
				}
			}
			t.Fatalf("no error at task %q field %s about the name; got:\n%v", tc.task, tc.field, err)
		})
	}
	_, err := CompileNative(&NativeDAG{Name: "p", Tasks: []NativeTask{{Name: "..", Image: "x", Command: []string{"true"}}}})
	if err == nil || !strings.Contains(err.Error(), `task "..": tasks[0].name`) {
		t.Errorf("native task named ..: %v", err)
	}
}

func TestCheckTaskPath(t *testing.T) {
	for _, ok := range []string{"train", "for-loop-1[2]/print-op", "outer[0]/inner[13]/x_y.z", "a[1][2]"} {
		if err := CheckTaskPath(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "a/../b", "/abs", "a//b", "loop[x]", "loop[1", "loop[]", "a\\b", "-x"} {
		if err := CheckTaskPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
