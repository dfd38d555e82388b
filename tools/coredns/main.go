// Command coredns is CoreDNS (github.com/coredns/coredns) with only the
// plugins the local cluster's real node needs: the cluster DNS that
// resolves Services and the pods of headless Services
// (<pod>.<service>.<namespace>.svc.cluster.local) from the API server, so
// that MPI launchers reach their workers by name. Built from Go modules,
// like the other tools, with a plugin list of its own (CoreDNS's way of
// making a smaller server), which leaves out the cloud DNS plugins and
// their SDKs.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives are the plugins, in the order CoreDNS runs them.
var directives = []string{"bind", "ready", "errors", "log", "kubernetes", "forward"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
