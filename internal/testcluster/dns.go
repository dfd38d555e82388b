package testcluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ClusterDomain is the local cluster's DNS domain.
const ClusterDomain = "cluster.local"

// startClusterDNS starts CoreDNS (tools/coredns) on the real node's
// address, port 53, serving cluster.local from the API server: Services,
// and the pods of headless Services by hostname and subdomain
// (<pod>.<service>.<namespace>.svc.cluster.local), as MPI jobs need.
// Other names go to the host's resolvers. kubelet gives Pods this address
// as their nameserver; there is no kube-proxy, so it is the node's own
// address rather than a Service IP. It returns once CoreDNS is ready
// (its kubernetes plugin has synced).
func (c *Cluster) startClusterDNS(ctx context.Context, bins *Binaries) error {
	n := c.RealNode
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	ready := "127.0.0.1:" + strconv.Itoa(ports[0])
	corefile := fmt.Sprintf(`%[1]s:53 {
    bind %[2]s
    ready %[3]s
    errors
    kubernetes %[1]s {
        kubeconfig %[4]s kfstack-local
    }
}
.:53 {
    bind %[2]s
    errors
    forward . /etc/resolv.conf
}
`, ClusterDomain, n.IP, ready, c.KubeconfigPath)
	path := filepath.Join(n.dir, "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		return err
	}
	dns, err := c.start("coredns", bins.CoreDNS, "-conf", path, "-dns.port", "53")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, dns, http.DefaultClient, "http://"+ready+"/ready", 60*time.Second); err != nil {
		return fmt.Errorf("starting the cluster DNS: %w", err)
	}
	// The first query also checks that it answers on the node's address.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", net.JoinHostPort(n.IP, "53"))
	}}
	// /ready answers before the servers listen (the kubernetes plugin
	// first syncs with the API server): ask until it answers. The
	// kubernetes Service has no endpoints here
	// (--endpoint-reconciler-type=none), but its cluster IP resolves.
	deadline := time.Now().Add(60 * time.Second)
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := r.LookupHost(qctx, "kubernetes.default.svc."+ClusterDomain)
		cancel()
		if err == nil {
			break
		}
		if exited, _ := dns.hasExited(); exited || time.Now().After(deadline) {
			return fmt.Errorf("the cluster DNS at %s does not resolve kubernetes.default.svc: %w\n%s", n.IP, err, dns.tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(n.log, "cluster DNS (CoreDNS) serving %s at %s:53\n", ClusterDomain, n.IP)
	return nil
}
