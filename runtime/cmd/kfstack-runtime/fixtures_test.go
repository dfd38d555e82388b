package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ownFixture(name string) string {
	if strings.HasPrefix(name, "native_") {
		return filepath.Join("testdata", name)
	}
	return filepath.Join("..", "..", "pipeline", "testdata", name)
}

func mustContain(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestRunLoopsNestedConditionAndCache(t *testing.T) {
	outDir := t.TempDir()
	code, out := runCLI(t, "run", ownFixture("loops_nested_condition.yaml"), "--output-dir", outDir, "--run-id", "first", "--parallelism", "2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "for-loop-1[2]/square", "[condition-2/announce] big total 14 in first", "squares = [1,4,9]", "total = 14", "run first Succeeded")
	// The squares are cached: a second run with n=2 reuses 1 and 4.
	code, out = runCLI(t, "run", ownFixture("loops_nested_condition.yaml"), "--output-dir", outDir, "--run-id", "second", "--param", "n=2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "for-loop-1[0]/square", "Succeeded (cached)", "squares = [1,4]", "total = 5", "condition-2", "Skipped: condition is false")
	if strings.Count(out, "(cached)") != 2 {
		t.Errorf("want 2 cache hits:\n%s", out)
	}
	code, out = runCLI(t, "run", ownFixture("loops_nested_condition.yaml"), "--output-dir", outDir, "--run-id", "third", "--no-cache", "--quiet")
	if code != 0 || strings.Contains(out, "(cached)") {
		t.Errorf("--no-cache: exit %d\n%s", code, out)
	}
}

func TestRunExitHandler(t *testing.T) {
	code, out := runCLI(t, "run", ownFixture("exit_handler.yaml"), "--output-dir", t.TempDir(), "--run-id", "ok")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, `seen = {"pipelineJobResourceName":"ok","pipelineTaskName":"exit-handler-1","state":"SUCCEEDED"}`)
	code, out = runCLI(t, "run", ownFixture("exit_handler.yaml"), "--output-dir", t.TempDir(), "--run-id", "bad", "--param", "fail=true")
	if code != 1 {
		t.Fatalf("a failed run exits %d, want 1:\n%s", code, out)
	}
	// The failure names the task and carries the end of its log; the exit
	// handler still ran.
	mustContain(t, out, "cleanup                                  Succeeded", "run bad Failed", `task "exit-handler-1/work" failed: running sh: exit status 3`, "--- last output ---", "boom: disk on fire")
}

func TestRunArtifactsFixture(t *testing.T) {
	outDir := t.TempDir()
	code, out := runCLI(t, "run", ownFixture("artifacts.yaml"), "--output-dir", outDir, "--run-id", "a1", "--param", "label=L", "--param", "rows=2")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	report := filepath.Join(outDir, "artifacts", "artifacts", "a1", "consume", "report")
	mustContain(t, out, `summary = "label=L/txt:2"`, "report -> file://"+report)
	if b, err := os.ReadFile(report); err != nil || string(b) != "label=L/txt 2 rows\n" {
		t.Errorf("report artifact %q, %v", b, err)
	}
}

func TestRunNativeRetriesAndWhen(t *testing.T) {
	work := t.TempDir()
	code, out := runCLI(t, "run", ownFixture("native_retry.yaml"), "--output-dir", t.TempDir(), "--workdir", work, "--run-id", "n1", "--param", "greeting=hi")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "flaky                                    Waiting: attempt 1 failed", "flaky                                    Running (attempt 3)", `line = "hi after 3 attempts"`)
}

func TestRunNativeTimeout(t *testing.T) {
	start := time.Now()
	code, out := runCLI(t, "run", ownFixture("native_timeout.yaml"), "--output-dir", t.TempDir(), "--run-id", "slow")
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The engine's timer and the executor's deadline race; either reports it.
	mustContain(t, out, "[slow] started", "Failed: ", "timed out after 1s", "run slow Failed")
	if time.Since(start) > 20*time.Second {
		t.Errorf("the timed-out task was not stopped (%s)", time.Since(start))
	}
}

func TestRunRejectsInvalidInput(t *testing.T) {
	src, err := os.ReadFile(ownFixture("loops_nested_condition.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(src), "outputParameterKey: items}", "outputParameterKey: itemz}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", bad}, []string{"invalid pipeline", `task "for-loop-1": inputs.parameters["pipelinechannel--make-list-items"]: task "make-list" has no output parameter "itemz" (line `}},
		{[]string{"run", bad, "--dry-run"}, []string{`task "for-loop-1"`}},
		{[]string{"run", ownFixture("loops_nested_condition.yaml"), "--param", "n=many"}, []string{`parameters["n"]: NUMBER_INTEGER parameter: expected an integer, got "many"`}},
		{[]string{"run", ownFixture("loops_nested_condition.yaml"), "--param", "m=1"}, []string{`parameters["m"]: the pipeline has no parameter "m"`}},
		{[]string{"run", ownFixture("loops_nested_condition.yaml"), "--param", "novalue"}, []string{"expected name=value"}},
		{[]string{"run"}, []string{"usage: kfstack-runtime run PIPELINE.yaml"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{[]string{"run", filepath.Join(t.TempDir(), "missing.yaml")}, []string{"reading pipeline"}},
	} {
		code, out := runCLI(t, append(tc.args, "--output-dir", t.TempDir())...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2:\n%s", tc.args, code, out)
		}
		mustContain(t, out, tc.want...)
	}
}

func TestDryRunOwnFixtures(t *testing.T) {
	code, out := runCLI(t, "run", ownFixture("loops_nested_condition.yaml"), "--dry-run", "--output-dir", t.TempDir(), "--run-id", "d", "--param", "n=4")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "1. make-list", "command: sh -c", " 4 /", "-- for-loop-1: ParallelFor over 1 item(s), parallelism 2", "2. for-loop-1[0]/square",
		"-- condition-2: runs when int(inputs.parameter_values['pipelinechannel--stats-total']) > 10",
		"'big total {{stats/sum.total}} in d'")
	// Nothing ran: no task work directory was populated with outputs.
	code, out = runCLI(t, "run", ownFixture("native_retry.yaml"), "--dry-run", "--output-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "1. flaky", "retries: 3", "2. report", "when:    inputs.parameter_values['greeting'] != ''", "2 task(s) would run")
}

func TestRunImporterAndArtifactLoop(t *testing.T) {
	src := filepath.Join(t.TempDir(), "base.csv")
	writeFile(t, src, "header\n", 0o644)
	outDir := t.TempDir()
	code, out := runCLI(t, "run", ownFixture("importer_artifact_loop.yaml"), "--output-dir", outDir, "--run-id", "imp", "--param", "source=file://"+src, "--param", "n=42")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, `said = "big"`, "for-loop-2[2]/use", "branches/condition-4                     Skipped")
	if n := strings.Count(out, "made -> file://"); n != 3 {
		t.Errorf("%d collected artifacts listed, want 3:\n%s", n, out)
	}
	made, err := os.ReadFile(filepath.Join(outDir, "artifacts", "importer-artifact-loop", "imp", "for-loop-1", "1", "make", "out"))
	if err != nil || string(made) != "header\nb\n" {
		t.Errorf("made artifact %q, %v", made, err)
	}
}

func TestValidate(t *testing.T) {
	code, out := runCLI(t, "validate", ownFixture("artifacts.yaml"), ownFixture("native_retry.yaml"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, `pipeline "artifacts" is valid`, `pipeline "native-retry" is valid`)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src, _ := os.ReadFile(ownFixture("native_retry.yaml"))
	writeFile(t, bad, strings.Replace(string(src), "dependsOn: [flaky]", "dependsOn: [flakey]", 1), 0o644)
	code, out = runCLI(t, "validate", bad)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, `task "report": dependsOn[0]: unknown task "flakey" (line 14)`)
}
