package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
)

// testCluster is the local control plane that this package's acceptance
// tests run against, started once in TestMain.
var testCluster *testcluster.Cluster

var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"kubeflow": providerserver.NewProtocol6WithError(New("test")()),
}

func TestMain(m *testing.M) {
	testcluster.RunMain(m, func(c *testcluster.Cluster) { testCluster = c })
}

// providerBlock configures the provider for the test cluster.
func providerBlock() string {
	return fmt.Sprintf("provider \"kubeflow\" {\n  config_path = %q\n}\n", testCluster.KubeconfigPath)
}
