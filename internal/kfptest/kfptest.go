// Package kfptest gives tests the KFP pipelines that other projects
// compiled (../shared/testdata/kfp, never copied into this repository),
// what to pass them and what they must produce, and stand-ins for the
// programs their container images would ship.
package kfptest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Dir is ../shared/testdata/kfp next to the repository root; the test
// skips, saying so, where it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "testdata", "kfp")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no KFP test pipelines at %s (checkout outside the kfstack workspace): %v", dir, err)
	}
	return dir
}

// Case is one container-component pipeline of the shared test data.
type Case struct {
	// File is the pipeline's file name, Path its path.
	File, Path string
	// Name is a Kubernetes name made from File.
	Name string
	// Spec is the compiled pipeline.
	Spec []byte
	// Params are the run's parameters.
	Params map[string]string
	// Outputs are pipeline outputs the run must produce, JSON-encoded as
	// the run's status holds them.
	Outputs map[string]string
}

// ContainerCases returns the shared pipelines made only of container
// components (Python components need a Python image), at least ten.
// source is a local file that sequential_v2 downloads (gsutil cp).
func ContainerCases(t testing.TB, source string) []Case {
	t.Helper()
	dir := Dir(t)
	params := map[string]map[string]string{
		"arguments_parameters.yaml":           {"param2": "world"},
		"container_io.yaml":                   {"text": "kfstack"},
		"container_with_artifact_output.yaml": {"num_epochs": "5"},
		"sequential_v2.yaml":                  {"url": source},
	}
	outputs := map[string]map[string]string{
		"container_io.yaml":                   {"output_path": `"kfstack"`},
		"container_with_artifact_output.yaml": {"model_config_path": `"config for 5 epochs"`},
		"container_with_if_placeholder.yaml":  {"output_path": `"default"`},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var cases []Case
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "kfp.dsl.executor_main") {
			continue
		}
		base := filepath.Base(f)
		cases = append(cases, Case{
			File: base, Path: f, Spec: b,
			Name:   strings.ReplaceAll(strings.TrimSuffix(base, ".yaml"), "_", "-"),
			Params: params[base], Outputs: outputs[base],
		})
	}
	if len(cases) < 10 {
		t.Errorf("found %d container pipelines in %s, want at least 10", len(cases), dir)
	}
	return cases
}

// ModelArtifact is what container_with_artifact_output writes into its
// model artifact for num_epochs 5.
const ModelArtifact = "weights after 5 epochs\n"

// Programs are stand-ins for the programs some shared container components
// call, by name, to be put on PATH: my_program (gcr.io/my-image) and gsutil
// (google/cloud-sdk, copying local files). They do what the component
// contract says: write the values to the paths they are given.
var Programs = map[string]string{
	"my_program": `#!/bin/sh
first=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    --output_path) out=$2; shift 2;;
    --dataset) ds=$2; shift 2;;
    *) shift;;
  esac
done
mkdir -p "$(dirname "$out")" && printf '%s' "$first" > "$out"
if [ -n "$ds" ] && [ "$ds" != bye ]; then mkdir -p "$(dirname "$ds")" && echo "dataset for $first" > "$ds"; fi
`,
	"gsutil": "#!/bin/sh\n[ \"$1\" = cp ] && mkdir -p \"$(dirname \"$3\")\" && cp \"$2\" \"$3\"\n",
}

// RunSh is the run.sh that container_with_artifact_output runs from its
// working directory (`sh run.sh`).
const RunSh = `while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2;;
    --model_path) model=$2;;
    --model_config_path) config=$2;;
  esac
  shift 2
done
mkdir -p "$(dirname "$model")" "$(dirname "$config")"
echo "weights after $epochs epochs" > "$model"
printf 'config for %s epochs' "$epochs" > "$config"
`

// WaitRun waits until the run is in a final phase and returns it.
func WaitRun(t testing.TB, c client.Client, ns, name string, timeout time.Duration) *v1alpha1.PipelineRun {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := &v1alpha1.PipelineRun{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			t.Fatal(err)
		}
		if r.Status.Phase.Terminal() {
			return r
		}
		if time.Now().After(deadline) {
			state := ""
			if r.Status.State != nil {
				state = string(r.Status.State.Raw)
			}
			t.Fatalf("run %s still %s after %s: %s (tasks %v)\nstate %s", name, r.Status.Phase, timeout, r.Status.Message, r.Status.Tasks, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
