package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/executor/local"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// paramFlags collects repeated --param name=value flags.
type paramFlags map[string]any

func (p paramFlags) String() string { return "" }

func (p paramFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("expected name=value, got %q", v)
	}
	p[name] = value
	return nil
}

type runOptions struct {
	file, outputDir, root, workDir, runID string
	artifacts                             map[string]string
	pythonExecutor, python                string
	params                                paramFlags
	dryRun, quiet, noCache                bool
	parallel                              int
}

// artifactFlags collects repeated --artifact name=URI flags.
type artifactFlags map[string]string

func (a artifactFlags) String() string { return "" }

func (a artifactFlags) Set(v string) error {
	name, uri, ok := strings.Cut(v, "=")
	if !ok || name == "" || uri == "" {
		return fmt.Errorf("expected name=URI, got %q", v)
	}
	a[name] = uri
	return nil
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	o := runOptions{params: paramFlags{}, artifacts: map[string]string{}}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(o.params, "param", "pipeline parameter `name=value` (repeatable)")
	fs.Var(artifactFlags(o.artifacts), "artifact", "pipeline input artifact `name=URI` (a path, file://, gs:// or s3:// URI; repeatable)")
	fs.StringVar(&o.outputDir, "output-dir", "kfstack-output", "directory for task work files and, by default, artifacts")
	fs.StringVar(&o.root, "pipeline-root", "", "artifact store URL (default file://OUTPUT-DIR/artifacts)")
	fs.StringVar(&o.workDir, "workdir", "", "working directory of task commands (default: the current directory)")
	fs.StringVar(&o.runID, "run-id", "", "run name (default: pipeline name and time)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the task graph and resolved commands without running anything")
	fs.BoolVar(&o.quiet, "quiet", false, "do not echo task output")
	fs.BoolVar(&o.noCache, "no-cache", false, "ignore and do not write cached results")
	fs.IntVar(&o.parallel, "parallelism", 4, "maximum tasks running at once")
	fs.StringVar(&o.pythonExecutor, "python-executor", "", "kfp for Python-function components: auto (the installed kfp, else kfstack's built-in one), builtin, or kfp (the SDK's own prelude, pip install included); default $"+launcher.PythonEnv+" or auto")
	fs.StringVar(&o.python, "python", os.Getenv("KFSTACK_PYTHON"), "python3 interpreter for Python-function components (default $KFSTACK_PYTHON, else python3 on PATH)")
	// Flags may follow the pipeline file, as in the documented usage.
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintln(stderr, "usage: kfstack-runtime run PIPELINE.yaml [--param name=value]... [--output-dir DIR] [--dry-run]")
		return 2
	}
	o.file = positional[0]
	return execute(o, stdout, stderr)
}

func execute(o runOptions, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(o.file)
	if err != nil {
		fmt.Fprintf(stderr, "reading pipeline: %v\n", err)
		return 2
	}
	plan, err := pipeline.LoadFile(o.file, data)
	if err != nil {
		printInvalid(stderr, o.file, err)
		return 2
	}
	outDir, err := filepath.Abs(o.outputDir)
	if err != nil {
		fmt.Fprintf(stderr, "resolving output directory: %v\n", err)
		return 2
	}
	root := o.root
	if root == "" {
		root = plan.DefaultPipelineRoot
		if root == "" || !strings.HasPrefix(root, "file://") {
			root = "file://" + filepath.Join(outDir, "artifacts")
		}
	}
	runID := o.runID
	if runID == "" {
		runID = fmt.Sprintf("%s-%s", plan.Name, time.Now().UTC().Format("20060102-150405"))
	}
	pyExec, err := launcher.ParsePythonExecutor(o.pythonExecutor)
	if o.pythonExecutor == "" {
		pyExec = ""
	}
	if err != nil {
		fmt.Fprintf(stderr, "--python-executor: %v\n", err)
		return 2
	}
	workDir := filepath.Join(outDir, "runs", runID)
	workspace := ""
	if plan.Workspace != nil {
		// The run's workspace: a directory shared by its tasks, as the
		// PVC the pod executor mounts at /kfp-workspace.
		workspace = filepath.Join(workDir, "workspace")
		if !o.dryRun {
			if err := os.MkdirAll(workspace, 0o755); err != nil {
				fmt.Fprintf(stderr, "creating the workspace: %v\n", err)
				return 2
			}
		}
	}
	opts := engine.Options{MaxParallel: o.parallel, PipelineRoot: root, WorkspacePath: workspace}
	if o.dryRun {
		// One task at a time, so the printed order is an execution order.
		opts = engine.Options{MaxParallel: 1, PipelineRoot: root, WorkspacePath: workspace, DryRun: true}
	}
	eng := engine.New(plan, opts)
	artifacts := map[string]string{}
	for name, uri := range o.artifacts {
		if !strings.Contains(uri, "://") {
			abs, err := filepath.Abs(uri)
			if err != nil {
				fmt.Fprintf(stderr, "--artifact %s: %v\n", name, err)
				return 2
			}
			uri = "file://" + abs
		}
		artifacts[name] = uri
	}
	state, err := eng.StartWithInputs(runID, o.params, artifacts, time.Now())
	if err != nil {
		printInvalid(stderr, o.file, err)
		return 2
	}
	cfg := launcher.Config{Mode: launcher.LocalMode, PipelineRoot: root, WorkDir: workDir, Dir: o.workDir,
		WorkspacePath: workspace, PythonExecutor: pyExec, Python: o.python}
	if o.dryRun {
		return dryRun(eng, state, cfg, stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The user runs the pipeline as themselves: importers may name any URI
	// their credentials reach.
	store, err := launcher.OpenStore(ctx, root, launcher.StoreOptions{ForeignReads: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer store.Close()
	fmt.Fprintf(stdout, "run %s: pipeline %q, artifacts under %s\n", runID, plan.Name, root)
	fmt.Fprintln(stdout, "note: the local executor ignores container images; task commands run on this machine")
	x := local.New(cfg, store, o.parallel)
	if !o.quiet {
		x.Log = stdout
	}
	var cache engine.Cache = launcher.StoreCache{Store: store}
	if o.noCache {
		cache = nil
	}
	eng.Drive(ctx, state, x, cache, func(s *engine.State, c engine.Change) { printChange(stdout, eng, s, c) })
	x.Close()
	printSummary(stdout, state)
	printMetrics(stdout, eng, state)
	if state.Phase != engine.RunSucceeded {
		return 1
	}
	return 0
}

func printInvalid(w io.Writer, file string, err error) {
	fmt.Fprintf(w, "invalid pipeline %s:\n", file)
	for _, fe := range pipeline.AsErrorList(err) {
		fmt.Fprintf(w, "  %s\n", fe.Error())
	}
}

func printChange(w io.Writer, eng *engine.Engine, s *engine.State, c engine.Change) {
	if c.Node == 0 || c.Phase == engine.Ready {
		return
	}
	line := fmt.Sprintf("%s %-40s %s", time.Now().Format("15:04:05"), eng.Path(s, c.Node), c.Phase)
	switch {
	case c.Phase == engine.Running && eng.IsContainer(s, c.Node):
		line += fmt.Sprintf(" (attempt %d)", c.Attempt)
	case c.Cached:
		line += " (cached)"
	}
	if c.Message != "" && (c.Phase == engine.Failed || c.Phase == engine.Skipped || c.Phase == engine.Waiting) {
		line += ": " + c.Message
	}
	fmt.Fprintln(w, line)
}

// printMetrics lists the run's metrics artifacts with their values, as
// status.metrics holds them in a cluster.
func printMetrics(w io.Writer, eng *engine.Engine, s *engine.State) {
	var lines []string
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Phase != engine.Succeeded || !eng.IsContainer(s, int32(i)) {
			continue
		}
		for _, name := range sortedKeys(n.Artifacts) {
			for _, a := range n.Artifacts[name] {
				switch a.SchemaTitle {
				case "system.Metrics", "system.ClassificationMetrics", "system.SlicedClassificationMetrics":
					b, _ := json.Marshal(a.Metadata)
					lines = append(lines, fmt.Sprintf("  %s/%s: %s", eng.Path(s, int32(i)), name, b))
				}
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "metrics:")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

func printSummary(w io.Writer, s *engine.State) {
	fmt.Fprintf(w, "run %s %s\n", s.RunID, s.Phase)
	if s.Message != "" && s.Phase != engine.RunSucceeded {
		fmt.Fprintf(w, "  %s\n", s.Message)
	}
	params, arts := s.Outputs()
	if len(params) > 0 {
		fmt.Fprintln(w, "outputs:")
		for _, k := range sortedKeys(params) {
			b, _ := json.Marshal(params[k])
			fmt.Fprintf(w, "  %s = %s\n", k, b)
		}
	}
	if len(arts) > 0 {
		fmt.Fprintln(w, "artifacts:")
		for _, k := range sortedKeys(arts) {
			for _, a := range arts[k] {
				fmt.Fprintf(w, "  %s -> %s\n", k, a.URI)
			}
		}
	}
	var lines []string
	for i := range s.Nodes {
		for name, list := range s.Nodes[i].Artifacts {
			for _, a := range list {
				if a.Name == name {
					lines = append(lines, fmt.Sprintf("  %s -> %s", name, a.URI))
				}
			}
		}
	}
	if len(lines) > 0 && len(arts) == 0 {
		sort.Strings(lines)
		fmt.Fprintln(w, "task artifacts:")
		for _, l := range dedupe(lines) {
			fmt.Fprintln(w, l)
		}
	}
}

func dedupe(l []string) []string {
	var out []string
	for i, s := range l {
		if i == 0 || s != l[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
