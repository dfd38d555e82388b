// Package testcluster runs a real local Kubernetes control plane, built from
// Go modules: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// and KWOK simulating CPU, GPU and TPU nodes. Tests start one per package in
// TestMain (see RunMain); `make cluster-up` starts one for the quickstart.
package testcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"

	"github.com/kfstack/terraform-provider-kubeflow/internal/faultproxy"
)

// Options configure a cluster.
type Options struct {
	// Dir holds certificates, data and logs. A temporary directory,
	// removed by Stop, when empty.
	Dir string
	// NodePools are the simulated nodes; DefaultNodePools when nil.
	NodePools []NodePool
	// Progress receives what the cluster is doing; os.Stderr when nil.
	Progress io.Writer
	// RealNode adds, beside the simulated nodes, a real node: kubelet on
	// containerd, running Pods in containers from images built locally.
	// It needs root, runc, the CNI plugins and BusyBox (see
	// RealNodeSupported), and only one runs per machine.
	RealNode bool
	// PodStartDelay delays KWOK's pod-ready stage: simulated pods become
	// Ready this long after they are bound, as real ones would after their
	// images are pulled and their containers start. 0 makes them Ready at
	// once. Benchmarks of installs use it to measure waiting as on a real
	// cluster.
	PodStartDelay time.Duration
	// EtcdProxy puts a fault-injecting TCP proxy (internal/faultproxy)
	// between the API server and etcd, so that a test can make etcd slow
	// (Cluster.SetEtcdLatency). It runs in the process that starts the
	// cluster.
	EtcdProxy bool
}

// Cluster is a running local control plane.
type Cluster struct {
	// Dir holds the cluster's files and component logs.
	Dir string
	// KubeconfigPath is a kubeconfig with an admin client certificate.
	KubeconfigPath string
	// Host is the API server's URL.
	Host string
	// CACert is the PEM of the CA that signed the API server's certificate.
	CACert []byte
	// Token is a bearer token of a cluster administrator.
	Token string
	// ClientCert and ClientKey are an administrator's client certificate.
	ClientCert, ClientKey []byte
	// Config is a REST config for the administrator.
	Config *rest.Config
	// Client is a clientset for the administrator.
	Client kubernetes.Interface
	// RealNode is the real node, nil unless Options.RealNode was set.
	RealNode *RealNode

	stopMu   sync.Mutex
	procs    []*process
	etcd     *faultproxy.Proxy
	ownsDir  bool
	keys     *pki
	pkiFiles map[string]string
	// noRealNode says why RunMain started the cluster without a real node.
	noRealNode string
}

// Start starts a cluster and returns once its API server answers and every
// simulated node is Ready. On error nothing is left running.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = os.Stderr
	}
	bins, err := EnsureBinaries(ctx, progress)
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: opts.Dir}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "kfstack-cluster-"); err != nil {
			return nil, err
		}
		c.ownsDir = true
	} else if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.WriteLogs(progress, 30)
			c.Stop()
		}
	}()

	started := time.Now()
	if opts.RealNode {
		if err := c.startContainerd(ctx, bins, progress); err != nil {
			return c, err
		}
	}
	if err := c.startControlPlane(ctx, bins, opts.PodStartDelay, opts.EtcdProxy); err != nil {
		return c, err
	}
	pools := opts.NodePools
	if pools == nil {
		pools = DefaultNodePools()
	}
	if err := c.addNodes(ctx, pools); err != nil {
		return c, err
	}
	if err := c.waitForDefaultServiceAccount(ctx); err != nil {
		return c, err
	}
	if opts.RealNode {
		if err := c.startClusterDNS(ctx, bins); err != nil {
			return c, err
		}
		if err := c.startKubelet(ctx, bins); err != nil {
			return c, err
		}
	}
	fmt.Fprintf(progress, "local cluster ready at %s in %s (kubeconfig %s)\n", c.Host, time.Since(started).Round(100*time.Millisecond), c.KubeconfigPath)
	return c, nil
}

func (c *Cluster) startControlPlane(ctx context.Context, bins *Binaries, podStartDelay time.Duration, etcdProxy bool) error {
	keys, err := newPKI()
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(c.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}
	files, err := keys.writeFiles(pkiDir)
	if err != nil {
		return err
	}
	c.keys, c.pkiFiles = keys, files
	c.CACert, c.ClientCert, c.ClientKey = keys.CACertPEM, keys.AdminCertPEM, keys.AdminKeyPEM
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return err
	}
	c.Token = hex.EncodeToString(token)
	tokenFile := filepath.Join(pkiDir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(c.Token+`,kfstack-admin,kfstack-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}

	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)

	etcd, err := c.start("etcd", bins.Etcd,
		"--name=default",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		// The data is thrown away with the cluster: fsync buys nothing.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcd, http.DefaultClient, etcdURL+"/health", 30*time.Second); err != nil {
		return err
	}
	apiserverEtcd := etcdURL
	if etcdProxy {
		if c.etcd, err = faultproxy.New("127.0.0.1:" + strconv.Itoa(etcdClient)); err != nil {
			return fmt.Errorf("starting the proxy in front of etcd: %w", err)
		}
		apiserverEtcd = "http://" + c.etcd.Addr()
	}

	c.Host = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	apiserver, err := c.start("kube-apiserver", bins.APIServer,
		"--etcd-servers="+apiserverEtcd,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"),
		// With the advertise address on loopback, the default reconciler
		// refuses to publish the kubernetes Service endpoints.
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--tls-cert-file="+files["serving.crt"], "--tls-private-key-file="+files["serving.key"],
		"--client-ca-file="+files["ca.crt"],
		"--token-auth-file="+tokenFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+files["sa.pub"],
		"--service-account-signing-key-file="+files["sa.key"],
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority="+files["ca.crt"],
		"--kubelet-client-certificate="+files["admin.crt"], "--kubelet-client-key="+files["admin.key"],
		// KFSTACK_CLUSTER_PROFILING=1 serves /debug/pprof to the admin
		// (BenchmarkRunCreates1000's KFSTACK_BENCH_PROFILE).
		"--profiling="+strconv.FormatBool(os.Getenv("KFSTACK_CLUSTER_PROFILING") == "1"),
		"--v=1",
	)
	if err != nil {
		return err
	}
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	httpClient, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, apiserver, httpClient, c.Host+"/readyz", 60*time.Second); err != nil {
		return err
	}

	if _, err := c.start("kube-controller-manager", bins.ControllerManager,
		"--kubeconfig="+c.KubeconfigPath,
		"--authentication-kubeconfig="+c.KubeconfigPath, "--authorization-kubeconfig="+c.KubeconfigPath,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(c.Dir, "kcm-certs"),
		// nodeipam wants a cluster CIDR; the node lifecycle controller
		// stays, it lifts the not-ready taint once KWOK marks nodes Ready.
		"--controllers=*,-nodeipam",
		// KWOK renews the simulated nodes' leases from one process that
		// shares two cores with everything else. A late renewal must not
		// make the node lifecycle controller mark every pod NotReady:
		// KWOK never sets them Ready again, and Deployments stay
		// unavailable for good.
		"--node-monitor-grace-period=10m",
		"--service-account-private-key-file="+files["sa.key"],
		"--root-ca-file="+files["ca.crt"],
		"--cluster-signing-cert-file="+files["ca.crt"],
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	); err != nil {
		return err
	}
	if _, err := c.start("kube-scheduler", bins.Scheduler,
		"--kubeconfig="+c.KubeconfigPath,
		"--authentication-kubeconfig="+c.KubeconfigPath, "--authorization-kubeconfig="+c.KubeconfigPath,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+filepath.Join(c.Dir, "scheduler-certs"),
		// Each pod costs the scheduler a binding and an event: at the
		// default 50 QPS it, not what a test measures, would bound the
		// pods a second (25).
		"--kube-api-qps=500", "--kube-api-burst=1000",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	); err != nil {
		return err
	}
	kwokArgs := []string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KWOKNodeAnnotation + "=fake",
		"--server-address=127.0.0.1:" + strconv.Itoa(kwokPort),
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
	}
	taskStage, err := writeTaskPodStage(c.Dir)
	if err != nil {
		return err
	}
	for _, stage := range append(bins.KWOKStages, taskStage) {
		if filepath.Base(stage) == "pod-complete.yaml" {
			if stage, err = holdableStage(c.Dir, stage); err != nil {
				return err
			}
		}
		if podStartDelay > 0 && filepath.Base(stage) == "pod-ready.yaml" {
			if stage, err = delayStage(c.Dir, stage, podStartDelay); err != nil {
				return err
			}
		}
		kwokArgs = append(kwokArgs, "--config="+stage)
	}
	_, err = c.start("kwok", bins.KWOK, kwokArgs...)
	return err
}

// SetEtcdLatency makes etcd answer the API server d later, in each
// direction, from now on (0: at once). The cluster must have been started
// with Options.EtcdProxy.
func (c *Cluster) SetEtcdLatency(d time.Duration) error {
	if c.etcd == nil {
		return errors.New("the cluster has no proxy in front of etcd: start it with Options.EtcdProxy")
	}
	c.etcd.SetLatency(d)
	return nil
}

// RestartAPIServer stops kube-apiserver (SIGTERM; SIGKILL when kill is
// set) and starts it again on the same port with the same flags and data,
// and returns once it is ready. Clients, controllers and watches see it
// go away and come back, as in a control-plane upgrade or crash.
func (c *Cluster) RestartAPIServer(ctx context.Context, kill bool) error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	for i, p := range c.procs {
		if p.name != "kube-apiserver" {
			continue
		}
		if kill {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		} else {
			p.stop(15 * time.Second)
		}
		next, err := startProcess(p.dir, p.name, p.bin, p.args...)
		if err != nil {
			return err
		}
		c.procs[i] = next
		httpClient, err := rest.HTTPClientFor(c.Config)
		if err != nil {
			return err
		}
		return waitHTTP(ctx, next, httpClient, c.Host+"/readyz", 60*time.Second)
	}
	return errors.New("the cluster runs no kube-apiserver")
}

// start starts a component and records it for Stop.
func (c *Cluster) start(name, bin string, args ...string) (*process, error) {
	p, err := startProcess(c.Dir, name, bin, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

func (c *Cluster) writeKubeconfig() error {
	c.Config = &rest.Config{
		Host: c.Host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.CACert,
			CertData: c.ClientCert,
			KeyData:  c.ClientKey,
		},
		QPS:   200,
		Burst: 400,
	}
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	c.Client = client
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kfstack-local"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CACert}
	cfg.AuthInfos["kfstack-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.ClientCert, ClientKeyData: c.ClientKey}
	cfg.Contexts["kfstack-local"] = &clientcmdapi.Context{Cluster: "kfstack-local", AuthInfo: "kfstack-admin"}
	cfg.CurrentContext = "kfstack-local"
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, c.KubeconfigPath)
}

// addNodes creates the simulated nodes and waits until each is Ready and
// schedulable.
func (c *Cluster) addNodes(ctx context.Context, pools []NodePool) error {
	var names []string
	for _, pool := range pools {
		nodes, err := pool.nodes()
		if err != nil {
			return err
		}
		for _, node := range nodes {
			if err := CreateNode(ctx, c.Client, node); err != nil {
				return err
			}
			names = append(names, node.Name)
		}
	}
	return c.poll(ctx, 60*time.Second, func() (bool, string, error) {
		for _, name := range names {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			if !NodeSchedulable(node) {
				return false, "node " + name + " is not Ready and schedulable", nil
			}
		}
		return true, "", nil
	})
}

// CreateNode creates a simulated node with the capacity, allocatable
// resources and node info of its status. The node must carry
// KWOKNodeAnnotation for KWOK to run it; KWOK then marks it Ready.
func CreateNode(ctx context.Context, client kubernetes.Interface, node *corev1.Node) error {
	status := node.Status
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating node %s: %w", node.Name, err)
	}
	// Capacity is status: the create above drops it. KWOK writes the
	// node's status at the same time, so retry on conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		live.Status.Capacity, live.Status.Allocatable = status.Capacity, status.Allocatable
		live.Status.NodeInfo = status.NodeInfo
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, live, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("setting the capacity of node %s: %w", node.Name, err)
	}
	return nil
}

// NodeSchedulable reports whether a node is Ready and carries no
// not-ready or unreachable taint.
func NodeSchedulable(node *corev1.Node) bool {
	ready := false
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	for _, taint := range node.Spec.Taints {
		if taint.Key == corev1.TaintNodeNotReady || taint.Key == corev1.TaintNodeUnreachable {
			return false
		}
	}
	return ready
}

// waitForDefaultServiceAccount waits for the controller manager to create
// the default ServiceAccount, without which no Pod is admitted.
func (c *Cluster) waitForDefaultServiceAccount(ctx context.Context) error {
	return c.poll(ctx, 60*time.Second, func() (bool, string, error) {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "no default ServiceAccount yet", nil
		}
		return err == nil, "", err
	})
}

// poll calls check every 100ms until it is done, the timeout passes or a
// component exits.
func (c *Cluster) poll(ctx context.Context, timeout time.Duration, check func() (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		for _, p := range c.procs {
			if exited, err := p.hasExited(); exited {
				return fmt.Errorf("%s stopped: %w", p.name, err)
			}
		}
		done, why, err := check()
		if err != nil && !isTransient(err) {
			return err
		}
		if done {
			return nil
		}
		if why != "" {
			last = why
		} else if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s: %s", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isTransient(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err)
}

// waitHTTP waits for url to answer 200, or for p to exit.
func waitHTTP(ctx context.Context, p *process, client *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		if exited, err := p.hasExited(); exited {
			return fmt.Errorf("%s stopped before %s answered: %w\n%s", p.name, url, err, p.tail(20))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (%s): timed out after %s: %s", p.name, url, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WriteLogs writes the last n lines of every component's log to w.
func (c *Cluster) WriteLogs(w io.Writer, n int) {
	writeTails(w, c.procs, n)
}

// Stop stops the components in the order that lets each shut down
// cleanly: the real node's Pods, kubelet, the node simulator and
// controllers, then the API server, then etcd (stopping etcd first makes
// the API server's shutdown hang), then containerd's tasks and
// containerd. It then removes what the real node left on the host, and
// the cluster's directory if Start created it.
func (c *Cluster) Stop() {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	node := c.RealNode
	if node != nil && c.Client != nil && len(c.procs) > 0 {
		node.drain(c)
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		grace := 5 * time.Second
		switch c.procs[i].name {
		case "kube-apiserver":
			grace = 15 * time.Second
		case "containerd":
			node.removeTasks()
		}
		c.procs[i].stop(grace)
	}
	c.procs = nil
	if c.etcd != nil {
		_ = c.etcd.Close()
		c.etcd = nil
	}
	removeDir := c.ownsDir
	if node != nil {
		if err := node.cleanUp(c.Dir); err != nil {
			// A mount left in the directory may be a bind mount of a
			// host path: keep the directory rather than delete through it.
			fmt.Fprintf(os.Stderr, "cleaning up the real node: %v\n", err)
			removeDir = false
		}
		c.RealNode = nil
	}
	if removeDir {
		_ = os.RemoveAll(c.Dir)
	}
}

// delayStage writes a copy of a KWOK Stage file whose stage waits delay
// before it applies, and returns its path.
func delayStage(dir, stage string, delay time.Duration) (string, error) {
	data, err := os.ReadFile(stage)
	if err != nil {
		return "", err
	}
	const spec = "\nspec:\n"
	if !bytes.Contains(data, []byte(spec)) {
		return "", fmt.Errorf("stage %s has no top-level spec", stage)
	}
	delayed := bytes.Replace(data, []byte(spec), []byte(fmt.Sprintf("%s  delay:\n    durationMilliseconds: %d\n", spec, delay.Milliseconds())), 1)
	out := filepath.Join(dir, "delayed-"+filepath.Base(stage))
	return out, os.WriteFile(out, delayed, 0o644)
}
