package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
)

// invalidCases are the bad inputs of the KFP SDK's corpus and our own
// (runtime/pipeline/testdata/invalid, each with its expected error on its
// first line), with the error each must give.
func invalidCases(t *testing.T) map[string]string {
	t.Helper()
	cases := map[string]string{}
	sdk := filepath.Join(kfptest.SDKDir(t), "invalid")
	for name, want := range map[string]string{
		"empty_file.yaml":   "the file is empty",
		"empty_zip.zip":     "the file is named .zip but is not a zip archive",
		"invalid-zip.zip":   `in invalid_yaml.yaml of the archive: unknown field "components_1" of a pipeline spec; did you mean "components"?`,
		"invalid_yaml.yaml": `unknown field "components_1" of a pipeline spec; did you mean "components"?`,
		"no_name.yaml":      "pipelineInfo.name: a pipeline needs a name",
		"wrong_format.png":  "a pipeline file is .yaml, .yml or .json (or a .zip or .tar.gz pipeline package), not .png",
	} {
		cases[filepath.Join(sdk, name)] = want
	}
	own, _ := filepath.Glob(filepath.Join("..", "..", "pipeline", "testdata", "invalid", "*.yaml"))
	if len(own) < 20 {
		t.Fatalf("found %d invalid pipelines of our own, want at least 20", len(own))
	}
	for _, f := range own {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		want, ok := strings.CutPrefix(first, "# want: ")
		if !ok {
			t.Fatalf("%s does not start with '# want: <error>'", f)
		}
		cases[f] = want
	}
	return cases
}

// TestInvalidPipelinesGiveOneClearError: validate, run and run --dry-run
// each refuse every bad input with one error that names the file and the
// problem, before anything runs.
func TestInvalidPipelinesGiveOneClearError(t *testing.T) {
	for file, want := range invalidCases(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, args := range [][]string{
				{"validate", file},
				{"run", file, "--output-dir", t.TempDir()},
				{"run", file, "--dry-run", "--output-dir", t.TempDir()},
			} {
				code, out := runCLI(t, args...)
				if code == 0 {
					t.Fatalf("%s: accepted:\n%s", args[0], out)
				}
				if !strings.Contains(out, "invalid pipeline "+file+":") {
					t.Errorf("%v: the error does not name the file:\n%s", args, out)
				}
				if !strings.Contains(out, want) {
					t.Errorf("%v: output lacks %q:\n%s", args, want, out)
				}
				problems := 0
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "  ") {
						problems++
					}
				}
				if problems != 1 {
					t.Errorf("%v: %d problems reported, want one:\n%s", args, problems, out)
				}
			}
		})
	}
}

// TestPythonComponentFailures: a Python function that raises fails its
// task with the traceback's last lines in the run's error, and a component
// whose packages are missing fails naming them, on the local executor with
// kfstack's built-in kfp.
func TestPythonComponentFailures(t *testing.T) {
	python := debianPython(t)
	base, err := os.ReadFile(filepath.Join(kfptest.SDKDir(t), "valid", "critical_add_numbers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raises := strings.Replace(string(base), `    return a + b`, `    if b == 0:\n        raise ZeroDivisionError(f\"cannot add {a} to nothing\")\n    return a + b`, 1)
	if raises == string(base) {
		t.Fatal("the corpus pipeline changed; cannot make it raise")
	}
	writeFile(t, filepath.Join(dir, "raises.yaml"), raises, 0o644)
	code, out := runCLI(t, "run", filepath.Join(dir, "raises.yaml"), "--param", "a=1", "--param", "b=0", "--output-dir", filepath.Join(dir, "out"), "--python", python)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	summary := out[strings.LastIndex(out, "\nrun "):]
	for _, w := range []string{`task "add-numbers" failed`, `in add_numbers`, `ZeroDivisionError: cannot add 1 to nothing`} {
		if !strings.Contains(summary, w) {
			t.Errorf("the run's error lacks %q:\n%s", w, summary)
		}
	}
	needs := strings.Replace(string(base), `'kfp==2.14.6'`, `'kfp==2.14.6' 'no-such-package>=1.0'`, 1)
	writeFile(t, filepath.Join(dir, "needs.yaml"), needs, 0o644)
	code, out = runCLI(t, "run", filepath.Join(dir, "needs.yaml"), "--param", "a=1", "--param", "b=2", "--output-dir", filepath.Join(dir, "out2"), "--python", python)
	if code != 1 || !strings.Contains(out, "needs packages that python3") || !strings.Contains(out, "no-such-package>=1.0") {
		t.Fatalf("exit %d, want a failure naming the missing package:\n%s", code, out)
	}
}
