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
	params                                paramFlags
	dryRun, quiet, noCache                bool
	parallel                              int
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	o := runOptions{params: paramFlags{}}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(o.params, "param", "pipeline parameter `name=value` (repeatable)")
	fs.StringVar(&o.outputDir, "output-dir", "kfstack-output", "directory for task work files and, by default, artifacts")
	fs.StringVar(&o.root, "pipeline-root", "", "artifact store URL (default file://OUTPUT-DIR/artifacts)")
	fs.StringVar(&o.workDir, "workdir", "", "working directory of task commands (default: the current directory)")
	fs.StringVar(&o.runID, "run-id", "", "run name (default: pipeline name and time)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the task graph and resolved commands without running anything")
	fs.BoolVar(&o.quiet, "quiet", false, "do not echo task output")
	fs.BoolVar(&o.noCache, "no-cache", false, "ignore and do not write cached results")
	fs.IntVar(&o.parallel, "parallelism", 4, "maximum tasks running at once")
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
	plan, err := pipeline.LoadAny(data)
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
	opts := engine.Options{MaxParallel: o.parallel, PipelineRoot: root}
	if o.dryRun {
		// One task at a time, so the printed order is an execution order.
		opts = engine.Options{MaxParallel: 1, PipelineRoot: root, DryRun: true}
	}
	eng := engine.New(plan, opts)
	state, err := eng.Start(runID, o.params, time.Now())
	if err != nil {
		printInvalid(stderr, o.file, err)
		return 2
	}
	cfg := launcher.Config{Mode: launcher.LocalMode, PipelineRoot: root, WorkDir: filepath.Join(outDir, "runs", runID), Dir: o.workDir}
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
