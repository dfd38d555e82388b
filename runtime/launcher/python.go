package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pyexec"
)

// PythonExecutor chooses the kfp package Python-function components run
// with.
type PythonExecutor string

// Python executors.
const (
	// PythonAuto runs the SDK's prelude-free command with the image's kfp
	// when it is installed, with kfstack's built-in kfp otherwise. The
	// prelude's pip install never runs: packages the component lists must
	// be installed already, or the task fails naming them.
	PythonAuto PythonExecutor = "auto"
	// PythonBuiltin always uses kfstack's built-in kfp.
	PythonBuiltin PythonExecutor = "builtin"
	// PythonKFP runs the command as compiled: the SDK's prelude installs
	// kfp and the component's packages with pip (a package index needed).
	PythonKFP PythonExecutor = "kfp"
)

// ParsePythonExecutor checks a setting's value ("" is auto).
func ParsePythonExecutor(s string) (PythonExecutor, error) {
	switch PythonExecutor(s) {
	case "", PythonAuto:
		return PythonAuto, nil
	case PythonBuiltin, PythonKFP:
		return PythonExecutor(s), nil
	}
	return "", fmt.Errorf("python executor %q is not auto, builtin or kfp", s)
}

// PythonEnv is the environment variable that sets the Python executor of
// a launcher whose Config leaves it empty (in a task pod, the controller
// sets it from --python-executor).
const PythonEnv = "KFSTACK_PYTHON_EXECUTOR"

// pythonReport is what kfstack_check.py prints.
type pythonReport struct {
	Python     string `json:"python"`
	Executable string `json:"executable"`
	KFP        string `json:"kfp"`
	Packages   []struct {
		Name        string `json:"name"`
		Status      string `json:"status"`
		Detail      string `json:"detail"`
		Requirement string `json:"requirement"`
	} `json:"packages"`
}

var linkSeq atomic.Int64

// reports caches checks by environment: the local executor runs many
// tasks with the same interpreter and packages.
var reports sync.Map

// pythonPlan rewrites a recognised Python component's command: which kfp
// it runs with, without the prelude's pip install. It returns the command,
// extra environment and a note saying what it chose.
func pythonPlan(ctx context.Context, comp *pyexec.Component, argv, env []string, cfg Config) ([]string, []string, []string, error) {
	mode := cfg.PythonExecutor
	if mode == "" {
		mode, _ = ParsePythonExecutor(os.Getenv(PythonEnv))
	}
	if mode == PythonKFP {
		if comp.HasPrelude {
			return argv, nil, []string{"Python component: runs the SDK's prelude (pip installs " + strings.Join(comp.Requirements, " ") + ")"}, nil
		}
		return argv, nil, []string{"Python component: runs with the image's kfp"}, nil
	}
	dir := filepath.Join(cfg.WorkDir, ".kfstack")
	shim, err := pyexec.Install(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	var extraEnv []string
	path := lookupEnv(env, "PATH")
	if cfg.Python != "" {
		// A python3 of the operator's choice (Debian's, with its
		// packages) comes first on PATH.
		bin := filepath.Join(dir, "bin")
		if err := linkPython(bin, cfg.Python); err != nil {
			return nil, nil, nil, err
		}
		path = bin + string(os.PathListSeparator) + path
		extraEnv = append(extraEnv, "PATH="+path)
	}
	rep, err := checkPython(ctx, cfg.Dir, comp.Requirements, env, extraEnv)
	if err != nil {
		return nil, nil, nil, err
	}
	var missing, other []string
	for _, p := range rep.Packages {
		switch pyexec.RequirementName(p.Name) {
		case "kfp", "typing-extensions":
			continue
		}
		switch p.Status {
		case "missing":
			m := p.Requirement
			if p.Detail != "" {
				m += " (" + p.Detail + ")"
			}
			missing = append(missing, m)
		case "other-version":
			other = append(other, p.Name+": "+p.Detail)
		}
	}
	if len(missing) > 0 {
		return nil, nil, nil, fmt.Errorf("the Python component needs packages that python3 %s (%s) does not have, and kfstack does not install packages from an index: %s; install them in the task's image (for the local executor: on this machine, e.g. Debian's python3-* packages), or run with --python-executor=kfp to let the SDK's pip install them",
			rep.Python, rep.Executable, strings.Join(missing, ", "))
	}
	useReal := mode == PythonAuto && strings.HasPrefix(rep.KFP, "2.")
	var note string
	if useReal {
		note = fmt.Sprintf("Python component: kfp %s of the task's python3 %s (%s); the SDK's pip install is skipped", rep.KFP, rep.Python, rep.Executable)
	} else {
		why := "kfp is not installed"
		if rep.KFP != "" {
			why = "kfp " + rep.KFP + " is not a v2 SDK"
		}
		if mode == PythonBuiltin {
			why = "python executor set to builtin"
		}
		note = fmt.Sprintf("Python component: kfstack's built-in kfp executor with python3 %s (%s): %s; the SDK's pip install is skipped", rep.Python, rep.Executable, why)
		pp := shim
		if old := lookupEnv(env, "PYTHONPATH"); old != "" {
			pp += string(os.PathListSeparator) + old
		}
		extraEnv = append(extraEnv, "PYTHONPATH="+pp)
	}
	notes := []string{note}
	if len(other) > 0 {
		notes = append(notes, "Python component: other versions than it asks for are installed: "+strings.Join(other, "; "))
	}
	return comp.Command, extraEnv, notes, nil
}

func checkPython(ctx context.Context, dir string, reqs, env, extraEnv []string) (*pythonReport, error) {
	full := mergeEnv(env, extraEnv)
	key := lookupEnv(full, "PATH") + "\x00" + strings.Join(reqs, "\x00")
	if r, ok := reports.Load(key); ok {
		return r.(*pythonReport), nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	python, err := lookPath("python3", lookupEnv(full, "PATH"))
	if err != nil {
		return nil, fmt.Errorf("the Python component needs python3, which is not on the task's PATH (%s)", lookupEnv(full, "PATH"))
	}
	cmd := exec.CommandContext(ctx, python, append([]string{"-"}, reqs...)...)
	cmd.Env = full
	cmd.Stdin = bytes.NewReader(pyexec.CheckSource())
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("checking the Python component's packages with %s: %w: %s", python, err, strings.TrimSpace(errOut.String()))
	}
	var rep pythonReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("checking the Python component's packages with %s: %w", python, err)
	}
	reports.Store(key, &rep)
	return &rep, nil
}

// linkPython makes bin/python3 run the chosen interpreter.
func linkPython(bin, python string) error {
	abs, err := exec.LookPath(python)
	if err != nil {
		return fmt.Errorf("python interpreter %q: %w", python, err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	link := filepath.Join(bin, "python3")
	if cur, err := os.Readlink(link); err == nil && cur == abs {
		return nil
	}
	// Parallel tasks link at once: each through its own temporary name.
	tmp := fmt.Sprintf("%s.%d.%d", link, os.Getpid(), linkSeq.Add(1))
	if err := os.Symlink(abs, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

func lookPath(file, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", file)
}

func lookupEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// mergeEnv appends extra to env, later values winning.
func mergeEnv(env, extra []string) []string {
	return append(append([]string{}, env...), extra...)
}

// pythonTraceback returns the last lines of the last Python traceback in
// a task's output: the failing line and the exception.
func pythonTraceback(out string) string {
	i := strings.LastIndex(out, "Traceback (most recent call last):")
	if i < 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(out[i:], "\n"), "\n")
	// The traceback ends at the exception line: the first line after the
	// frames that is not indented.
	end := len(lines)
	for k := 1; k < len(lines); k++ {
		if !strings.HasPrefix(lines[k], " ") && lines[k] != "" {
			end = k + 1
			break
		}
	}
	var kept []string
	for _, l := range lines[1:end] {
		// Drop the carets and tildes Python draws under the failing
		// expression.
		if t := strings.TrimSpace(l); t != "" && strings.Trim(t, "^~ ") != "" {
			kept = append(kept, t)
		}
	}
	if len(kept) > 3 {
		kept = kept[len(kept)-3:]
	}
	return strings.Join(kept, " | ")
}
