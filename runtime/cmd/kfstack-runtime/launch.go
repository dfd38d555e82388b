package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// launchCommand runs one task attempt inside a task pod: it reads the task
// spec, runs the launcher with KFP's in-container paths and reports the
// result through the termination message.
func launchCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specFile := fs.String("spec", "-", "task spec JSON file (- for standard input)")
	specEnv := fs.String("spec-env", "", "read the task spec from this environment variable (the pod executor's way)")
	resultFile := fs.String("result", "/dev/termination-log", "where to write the result (the termination message)")
	workDir := fs.String("workdir", "/tmp/kfp", "scratch directory for outputs")
	local := fs.Bool("local-paths", false, "pass local paths as artifact URIs (kfp.local style) instead of /gcs, /s3 mounts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var data []byte
	var err error
	switch {
	case *specEnv != "":
		v, ok := os.LookupEnv(*specEnv)
		if !ok {
			err = fmt.Errorf("environment variable %s is not set", *specEnv)
		}
		data = []byte(v)
	case *specFile == "-":
		data, err = io.ReadAll(os.Stdin)
	default:
		data, err = os.ReadFile(*specFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "reading task spec: %v\n", err)
		return 2
	}
	var spec launcher.TaskSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		fmt.Fprintf(stderr, "decoding task spec: %v\n", err)
		return 2
	}
	if err := spec.ResolveSecrets(os.LookupEnv); err != nil {
		// Reported as the attempt's failure, naming the parameter.
		fmt.Fprintln(stderr, err)
		if msg, mErr := json.Marshal(launcher.Message{Error: err.Error()}); mErr == nil {
			_ = os.WriteFile(*resultFile, msg, 0o644)
		}
		return 1
	}
	run, err := spec.TaskRun()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The pod runs as the run's service account: importers and inputs may
	// name any URI it can read.
	store, err := launcher.OpenStore(ctx, spec.PipelineRoot, launcher.StoreOptions{ForeignReads: true})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer store.Close()
	mode := launcher.PodMode
	if *local {
		mode = launcher.LocalMode
	}
	res, runErr := launcher.Run(ctx, run, launcher.Config{Mode: mode, PipelineRoot: spec.PipelineRoot, WorkDir: *workDir, Log: stdout}, store)
	msg, err := launcher.EncodeResult(ctx, store, &spec, res, runErr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := os.WriteFile(*resultFile, msg, 0o644); err != nil {
		fmt.Fprintf(stderr, "writing result: %v\n", err)
		return 1
	}
	if runErr != nil {
		fmt.Fprintln(stderr, runErr)
		return 1
	}
	return 0
}
