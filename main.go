// Command terraform-provider-kubeflow is the kfstack Terraform provider: a
// Kubeflow-style machine-learning platform from one terraform apply.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/kfstack/terraform-provider-kubeflow/provider"
)

// Generate the documentation and format the examples (make generate).
//go:generate terraform fmt -recursive ./examples/
//go:generate terraform fmt -recursive ./modules/
//go:generate go run -C tools/docs github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir ../.. --provider-name kubeflow

// version is set by the release build with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/kfstack/kubeflow",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
