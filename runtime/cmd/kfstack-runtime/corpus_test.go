package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kfstack/terraform-provider-kubeflow/internal/kfptest"
)

// corpusArgs are a corpus pipeline's --param flags, with %TMP% replaced.
func corpusArgs(t *testing.T, file, tmp string) []string {
	var args []string
	for _, p := range kfptest.SDKParams[filepath.Base(file)] {
		args = append(args, "--param", strings.ReplaceAll(p, "%TMP%", tmp))
	}
	for _, a := range kfptest.SDKArtifacts[filepath.Base(file)] {
		args = append(args, "--artifact", strings.ReplaceAll(a, "%TMP%", tmp))
	}
	if err := os.WriteFile(filepath.Join(tmp, "source.txt"), []byte("source"), 0o644); err != nil {
		t.Fatal(err)
	}
	return args
}

// TestSDKCorpusValidateAndDryRun checks every compiled pipeline of the KFP
// SDK's corpus: it validates, and its dry run walks the whole graph with
// every placeholder resolved.
func TestSDKCorpusValidateAndDryRun(t *testing.T) {
	files := kfptest.SDKFiles(t)
	if len(files) < 131 {
		t.Errorf("found %d corpus pipelines, expected 131", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if code, out := runCLI(t, "validate", f); code != 0 {
				t.Fatalf("validate: exit %d\n%s", code, out)
			}
			tmp := t.TempDir()
			args := append([]string{"run", f, "--dry-run", "--output-dir", tmp, "--run-id", "dry"}, corpusArgs(t, f, tmp)...)
			code, out := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("dry run: exit %d\n%s", code, out)
			}
			if strings.Contains(out, "{{$") {
				t.Errorf("an unresolved placeholder is left:\n%s", out)
			}
			if !regexp.MustCompile(`(?m)^\d+ task\(s\) would run$`).MatchString(out) {
				t.Errorf("no task count:\n%s", out)
			}
		})
	}
}

// debianPython is the interpreter the corpus runs with: Debian's python3
// (the packages the machine installed with apt are its), skipping where
// there is none.
func debianPython(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3 (Debian's python3) on this machine")
	}
	return "/usr/bin/python3"
}

// TestSDKCorpusLocalRuns runs every pipeline of the corpus for real with
// the local executor: container components with stand-ins for the programs
// their images ship, Python components with Debian's python3, which has no
// kfp: kfstack's built-in kfp executor runs them. Each ends as
// kfptest.LocalRuns says (pipelines needing only kfp succeed, with their
// outputs and artifacts checked); others fail for the stated reason.
func TestSDKCorpusLocalRuns(t *testing.T) {
	python := debianPython(t)
	files := kfptest.SDKFiles(t)
	// Programs some container components call, which their images ship.
	work := standIns(t)
	counts := map[kfptest.Kind][2]int{}
	for _, f := range files {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exp, listed := kfptest.LocalRuns[name]
		if !listed {
			exp = kfptest.LocalRun{Kind: kfptest.KindPython}
			if !strings.Contains(string(b), "kfp.dsl.executor_main") {
				exp.Kind = kfptest.KindContainer
			}
		}
		if name == "metrics_visualization_v2.yaml" && runPython(python, "import sklearn") != nil {
			// It needs scikit-learn: it runs where Debian's
			// python3-sklearn is installed (.ci/run installs it).
			exp = kfptest.LocalRun{Kind: kfptest.KindPackages, Want: []string{"scikit-learn"}}
		}
		ok := t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			args := append([]string{"run", f, "--output-dir", filepath.Join(tmp, "out"), "--python", python, "--no-cache", "--workdir", work}, corpusArgs(t, f, tmp)...)
			code, out := runCLI(t, args...)
			switch exp.Kind {
			case kfptest.KindContainer:
				if code != 0 || !strings.Contains(runEnd.FindString(out), "Succeeded") {
					t.Fatalf("exit %d, want success:\n%s", code, out)
				}
				checkArtifacts(t, out)
			case kfptest.KindPython:
				if code != 0 || !runEnd.MatchString(out) || !strings.Contains(runEnd.FindString(out), "Succeeded") {
					t.Fatalf("exit %d, want success:\n%s", code, out)
				}
				if !strings.Contains(out, "kfstack's built-in kfp executor") {
					t.Errorf("the run does not say which kfp ran:\n%s", out)
				}
				checkArtifacts(t, out)
			default:
				if code != 1 || !strings.Contains(runEnd.FindString(out), "Failed") {
					t.Fatalf("exit %d, want a failed run (%s):\n%s", code, exp.Kind, out)
				}
			}
			rest := out
			for _, w := range exp.Want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
		c := counts[exp.Kind]
		c[1]++
		if ok {
			c[0]++
		}
		counts[exp.Kind] = c
	}
	var kinds []string
	for k, c := range counts {
		kinds = append(kinds, fmt.Sprintf("%s: %d of %d as expected", k, c[0], c[1]))
	}
	sort.Strings(kinds)
	t.Logf("local runs by kind:\n  %s", strings.Join(kinds, "\n  "))
}

var runEnd = regexp.MustCompile(`(?m)^run \S+ (Succeeded|Failed|Cancelled)$`)

var artifactLine = regexp.MustCompile(`(?m)^  (\S+) -> file://(\S+)$`)

// checkArtifacts checks that every artifact the summary lists is in the
// store, and that metrics artifacts hold their values.
func checkArtifacts(t *testing.T, out string) {
	t.Helper()
	for _, m := range artifactLine.FindAllStringSubmatch(out, -1) {
		st, err := os.Stat(m[2])
		if err != nil {
			t.Errorf("artifact %s is not in the store: %v", m[1], err)
			continue
		}
		if !st.IsDir() && strings.Contains(m[1], "metrics") {
			b, _ := os.ReadFile(m[2])
			if !strings.HasPrefix(string(b), "{") {
				t.Errorf("metrics artifact %s holds %q, want its metadata as JSON", m[1], b)
			}
		}
	}
}

func runPython(python, code string) error {
	return exec.Command(python, "-c", code).Run()
}
