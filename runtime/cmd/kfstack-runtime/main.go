// Command kfstack-runtime is the kfstack runtime: one binary whose
// subcommands run a pipeline locally (`run`) and run one task inside a task
// pod (`launch`); the controller joins them as another subcommand.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand; adding the controller or the in-pod launcher
// is one more entry in commands.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"run":        {summary: "run a pipeline file locally (KFP IR YAML/JSON or native DAG)", run: runCommand},
	"launch":     {summary: "run one task attempt inside a task pod (used by the pod executor)", run: launchCommand},
	"validate":   {summary: "check pipeline files without running them", run: validateCommand},
	"controller": {summary: "run the Pipeline and PipelineRun controller", run: controllerCommand},
	"install":    {summary: "copy this binary into a directory (the task pod's init container)", run: installCommand},
	"ui":         {summary: "serve the web UI (runs, task graphs, logs, artifacts, experiments, lineage)", run: uiCommand},
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kfstack-runtime: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kfstack-runtime COMMAND [flags]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, strings.TrimSpace(`
run: kfstack-runtime run PIPELINE.yaml [--param name=value]... [--output-dir DIR] [--dry-run]`))
}
