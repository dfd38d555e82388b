package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
)

const sklearnExample = "../../../examples/sklearn"

// TestSklearnExampleIsWhatTheSDKCompiles checks examples/sklearn/pipeline.yaml
// (written by hand; the KFP SDK cannot run here) against the Python source
// beside it and the shapes of the SDK's corpus: each component's embedded
// source is its function in pipeline.py, its prelude and program are the
// corpus's for packages_to_install=['scikit-learn'], keys are sorted and
// the header is the SDK's.
func TestSklearnExampleIsWhatTheSDKCompiles(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join(sklearnExample, "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	source, err := os.ReadFile(filepath.Join(sklearnExample, "pipeline.py"))
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := os.ReadFile(filepath.Join(kfptest.SDKDir(t), "valid", "metrics_visualization_v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type executors struct {
		DeploymentSpec struct {
			Executors map[string]struct {
				Container struct {
					Command []string `yaml:"command"`
					Args    []string `yaml:"args"`
					Image   string   `yaml:"image"`
				} `yaml:"container"`
			} `yaml:"executors"`
		} `yaml:"deploymentSpec"`
	}
	var ours, theirs executors
	if err := yaml.Unmarshal(spec, &ours); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(corpus, &theirs); err != nil {
		t.Fatal(err)
	}
	ref := theirs.DeploymentSpec.Executors["exec-digit-classification"].Container.Command
	if len(ref) != 7 {
		t.Fatalf("the corpus's command changed shape: %d elements", len(ref))
	}
	prelude := regexp.MustCompile(`'kfp==[0-9.]+'`).ReplaceAllString(ref[2], "'kfp==2.14.6'")
	if len(ours.DeploymentSpec.Executors) != 6 {
		t.Errorf("%d executors, want 6", len(ours.DeploymentSpec.Executors))
	}
	for label, ex := range ours.DeploymentSpec.Executors {
		c := ex.Container.Command
		fn := ex.Container.Args[len(ex.Container.Args)-1]
		if label != "exec-"+strings.ReplaceAll(fn, "_", "-") {
			t.Errorf("executor %s runs %s", label, fn)
		}
		if len(c) != 7 || c[0] != "sh" || c[1] != "-c" || c[2] != prelude || c[3] != "sh" || c[4] != "-ec" || c[5] != ref[5] {
			t.Errorf("executor %s: the command differs from the SDK's form", label)
			continue
		}
		if !slices.Equal(ex.Container.Args, []string{"--executor_input", "{{$}}", "--function_to_execute", fn}) {
			t.Errorf("executor %s: args %v", label, ex.Container.Args)
		}
		want := "\nimport kfp\nfrom kfp import dsl\nfrom kfp.dsl import *\nfrom typing import *\n\n" + functionSource(t, string(source), fn) + "\n"
		if c[6] != want {
			t.Errorf("executor %s: the embedded source is not %s of pipeline.py:\n%s", label, fn, c[6])
		}
	}
	if !strings.HasPrefix(string(spec), "# PIPELINE DEFINITION\n# Name: sklearn-classifiers\n") {
		t.Error("the SDK's header is missing")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	checkSorted(t, doc.Content[0], "")
}

// functionSource is a top-level function of a Python file as the SDK
// embeds it: from its def line (decorators dropped) to its last line.
func functionSource(t *testing.T, src, name string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "def "+name+"(") })
	if start < 0 {
		t.Fatalf("pipeline.py has no function %s", name)
	}
	end := start + 1
	for end < len(lines) && (lines[end] == "" || strings.HasPrefix(lines[end], " ") || strings.HasPrefix(lines[end], ")")) {
		end++
	}
	for end > start && lines[end-1] == "" {
		end--
	}
	return strings.Join(lines[start:end], "\n") + "\n"
}

// checkSorted checks that mapping keys are in order, as the SDK writes them.
func checkSorted(t *testing.T, n *yaml.Node, path string) {
	if n.Kind == yaml.MappingNode {
		var keys []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
			checkSorted(t, n.Content[i+1], path+"."+n.Content[i].Value)
		}
		if !slices.IsSorted(keys) {
			t.Errorf("keys of %s are not sorted: %v", path, keys)
		}
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			checkSorted(t, c, path+"[]")
		}
	}
}

// TestSklearnExampleRunsLocally runs the example with the local executor
// and Debian's python3-sklearn, without kfp installed: both models train,
// the better one is kept, and the metrics are printed.
func TestSklearnExampleRunsLocally(t *testing.T) {
	python := debianPython(t)
	if err := runPython(python, "import sklearn"); err != nil {
		t.Skipf("Debian's python3 has no scikit-learn (apt-get install python3-sklearn): %v", err)
	}
	for _, dataset := range []string{"iris", "breast_cancer"} {
		t.Run(dataset, func(t *testing.T) {
			code, out := runCLI(t, "run", filepath.Join(sklearnExample, "pipeline.yaml"), "--param", "dataset="+dataset,
				"--param", "regularization=0.5", "--output-dir", t.TempDir(), "--python", python, "--quiet")
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, w := range []string{"accuracy = 0.9", "algorithm = ", "metrics:", "evaluate/metrics: {\"accuracy\":", "evaluate-2/confusion: {\"confusionMatrix\":", "best -> file://"} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
