package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// validateCommand checks pipeline files without running them, the check
// that admission and `terraform plan` make.
func validateCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: kfstack-runtime validate PIPELINE.yaml...")
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "reading pipeline: %v\n", err)
			code = 2
			continue
		}
		plan, err := pipeline.LoadFile(file, data)
		if err != nil {
			printInvalid(stderr, file, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: pipeline %q is valid (%d components)\n", file, plan.Name, len(plan.Components)-1)
	}
	return code
}
