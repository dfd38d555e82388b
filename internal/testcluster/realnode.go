package testcluster

import (
	"bufio"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ggcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
)

// RealNodeName is the name of the real node.
const RealNodeName = "kfstack-real-node"

// RealNodeTaint keeps Pods that do not ask for the real node off it: Pods
// meant for simulated nodes would otherwise try to pull images that do not
// exist here. RealNode.Pin adds the matching toleration.
const RealNodeTaint = "kfstack.dev/real-node"

// RealNodeLabel is set to "true" on the real node.
const RealNodeLabel = "kfstack.dev/real-node"

// RealNodeImageTag is the tag of the images built for the real node.
const RealNodeImageTag = "dev"

// PrepareRealNode builds the real node's images once, into a temporary
// directory, so that the Go build cache holds their binaries and a real
// node (Options.RealNode) then starts in seconds: the first static build
// of the runtime takes a minute or two on 2 cores, too long to happen
// inside a start's deadline. Progress goes to progress. kfstack-cluster
// runs it before it starts the cluster, as it builds the control plane's
// binaries first.
func PrepareRealNode(ctx context.Context, progress io.Writer) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kfstack-node-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	fmt.Fprintln(progress, "building the real node's images (the first time compiles the runtime statically: a minute or two)")
	images, err := image.BuildLocal(ctx, image.LocalOptions{RepoRoot: root, OutDir: tmp, Tag: RealNodeImageTag, Progress: progress})
	if err != nil {
		return fmt.Errorf("building the real node's images: %w", err)
	}
	fmt.Fprintf(progress, "built %d images for the real node in %s\n", len(images), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// RealNodeBridge is the Linux bridge of the real node's Pod network.
const RealNodeBridge = "kfstack0"

// realNodeSubnet is the Pod network: bridge plus host-local IPAM.
const realNodeSubnet = "10.85.0.0/24"

// cniBinDirs are where the CNI plugins are looked for: Debian's and
// Ubuntu's containernetworking-plugins, then the upstream default.
var cniBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// cniBinDir returns the first of cniBinDirs that holds the plugins the
// node uses.
func cniBinDir() (string, error) {
	for _, dir := range cniBinDirs {
		found := true
		for _, plugin := range []string{"bridge", "host-local", "loopback"} {
			if _, err := os.Stat(filepath.Join(dir, plugin)); err != nil {
				found = false
			}
		}
		if found {
			return dir, nil
		}
	}
	return "", fmt.Errorf("the real node needs the CNI plugins bridge, host-local and loopback in %s: apt-get install containernetworking-plugins", strings.Join(cniBinDirs, " or "))
}

// realNodeLock allows one real node per machine: they would share the
// bridge, the shims' socket directory and the kubepods cgroups.
const realNodeLock = "/run/kfstack-real-node.lock"

// hostPaths are the directories outside its own that the real node may
// create, whatever its configuration says: the shims' sockets and runc
// state (/run/containerd), libcni's cache (/var/lib/cni), the device
// plugin socket (/var/lib/kubelet/device-plugins) and NRI's socket.
var hostPaths = []string{"/run/containerd", "/run/nri", "/var/lib/cni", "/var/lib/kubelet", "/var/log/pods", "/run/netns"}

// containerdNamespace is the containerd namespace of Kubernetes' CRI; an
// image imported anywhere else is invisible to kubelet.
const containerdNamespace = "k8s.io"

// RealNode is a kubelet on containerd registered with the local control
// plane, which runs Pods in real containers.
type RealNode struct {
	// Name is the Node's name.
	Name string
	// IP is the node's InternalIP.
	IP string
	// Images are the references of the images imported into containerd,
	// by name (image.BaseImage, image.PauseImage, image.RuntimeImage when
	// the runtime package exists).
	Images map[string]string

	dir    string
	socket string
	ctr    string
	lock   *nodeLock
	// newHostPaths are the hostPaths that did not exist before the node
	// started: Stop removes them.
	newHostPaths []string
	// tarballs are the built images' tarballs, by name.
	tarballs     map[string]string
	chainsBefore map[string]bool
	log          io.Writer
}

// Pin makes spec run on the real node: it selects the node and tolerates
// its taint.
func (n *RealNode) Pin(spec *corev1.PodSpec) {
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector[RealNodeLabel] = "true"
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
		Key: RealNodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
	})
}

// Import imports an image tarball (see image.WriteTarball) into the
// node's containerd, where Pods find it without pulling.
func (n *RealNode) Import(ctx context.Context, tarball string) error {
	if err := n.runCtr(ctx, "images", "import", tarball); err != nil {
		return fmt.Errorf("importing %s: %w", tarball, err)
	}
	return nil
}

// BaseImageRules returns image rewrite rules that run the small public
// images of shell-only container components (alpine, busybox and
// library/bash, all :latest, as the KFP samples name them) on the base
// image: the node has no registry to pull them from.
func (n *RealNode) BaseImageRules() imagerewrite.Rules {
	base := n.Images[image.BaseImage]
	return imagerewrite.Rules{Exact: map[string]string{
		"alpine":       base,
		"busybox":      base,
		"library/bash": base,
	}}
}

// ImportImage writes img, named ref, as a tarball into the node's
// directory and imports it: a test builds an image with image.Build and
// runs it without a registry.
func (n *RealNode) ImportImage(ctx context.Context, ref string, img v1.Image) error {
	tarball := filepath.Join(n.dir, "images", strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	if err := image.WriteTarball(tarball, ref, img); err != nil {
		return err
	}
	return n.Import(ctx, tarball)
}

// Image returns one of the images the node was started with, by name
// (image.BaseImage, …), for a test to build its own image on top.
func (n *RealNode) Image(name string) (v1.Image, error) {
	path, ok := n.tarballs[name]
	if !ok {
		return nil, fmt.Errorf("the real node has no image %q", name)
	}
	ref, err := ggcrname.NewTag(n.Images[name])
	if err != nil {
		return nil, err
	}
	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		return nil, fmt.Errorf("loading image %s from %s: %w", name, path, err)
	}
	return img, nil
}

// RealNodeSupported returns why this machine cannot run a real node, or
// nil if it can.
func RealNodeSupported() error {
	if os.Geteuid() != 0 {
		return errors.New("the real node needs root (containers, mounts, network namespaces)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return errors.New("the real node needs runc: apt-get install runc")
	}
	if _, err := cniBinDir(); err != nil {
		return err
	}
	if _, err := os.Stat(image.DefaultBusybox); err != nil {
		return fmt.Errorf("the real node's base image needs %s: apt-get install busybox-static", image.DefaultBusybox)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the real node needs ip to remove its bridge: apt-get install iproute2")
	}
	// The real node takes kubelet's cgroups (/kubepods) and kills what is
	// left in them: never beside a kubelet it does not own.
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	if resolved, err := filepath.EvalSymlinks(cache); err == nil {
		cache = resolved // /proc/<pid>/exe is resolved too
	}
	for _, pid := range processesWithExe("kubelet") {
		exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		if !strings.HasPrefix(exe, cache+string(filepath.Separator)) {
			return fmt.Errorf("a kubelet that is not kfstack's runs on this machine (pid %d, %s): the real node would share its cgroups", pid, exe)
		}
	}
	return nil
}

// startContainerd builds and imports the images and starts containerd.
// It runs before the control plane so that Stop, which stops components
// in reverse, stops containerd last.
func (c *Cluster) startContainerd(ctx context.Context, bins *Binaries, progress io.Writer) error {
	if err := RealNodeSupported(); err != nil {
		return err
	}
	lock, err := lockRealNode(ctx, progress)
	if err != nil {
		return err
	}
	n := &RealNode{
		Name:   RealNodeName,
		Images: map[string]string{}, tarballs: map[string]string{},
		dir:    filepath.Join(c.Dir, "node"),
		socket: filepath.Join(c.Dir, "node", "containerd.sock"),
		ctr:    bins.Ctr,
		lock:   lock,
		log:    progress,
	}
	c.RealNode = n
	// The lock is ours, so a node the lock file still names is one whose
	// process died before Stop: its shims, containers and mounts outlive
	// it.
	if stale, err := lock.read(); err == nil && stale.Dir != "" {
		fmt.Fprintf(progress, "cleaning up after a real node that was not stopped (%s)\n", stale.Dir)
		if err := cleanUpStaleNode(stale); err != nil {
			return fmt.Errorf("cleaning up after the real node in %s: %w", stale.Dir, err)
		}
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			n.newHostPaths = append(n.newHostPaths, p)
		}
	}
	if err := lock.write(nodeRecord{Dir: n.dir, HostPaths: n.newHostPaths}); err != nil {
		return err
	}
	n.chainsBefore = iptablesChains()
	if n.IP, err = hostIP(); err != nil {
		return err
	}
	for _, d := range []string{"containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "images"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}

	root, err := RepoRoot()
	if err != nil {
		return err
	}
	start := time.Now()
	images, err := image.BuildLocal(ctx, image.LocalOptions{
		RepoRoot: root,
		OutDir:   filepath.Join(n.dir, "images"),
		Tag:      RealNodeImageTag,
		Progress: progress,
	})
	if err != nil {
		return fmt.Errorf("building the real node's images: %w", err)
	}
	fmt.Fprintf(progress, "built %d images for the real node in %s\n", len(images), time.Since(start).Round(100*time.Millisecond))

	if err := n.writeContainerdConfig(bins, image.Ref(image.PauseImage, RealNodeImageTag)); err != nil {
		return err
	}
	containerd, err := c.start("containerd", bins.Containerd, "--config="+filepath.Join(n.dir, "containerd", "config.toml"))
	if err != nil {
		return err
	}
	if err := c.poll(ctx, 30*time.Second, func() (bool, string, error) {
		// Not answering is expected until containerd listens.
		err := n.runCtr(ctx, "version")
		return err == nil, "containerd does not answer: " + fmt.Sprint(err), nil
	}); err != nil {
		return fmt.Errorf("waiting for containerd: %w\n%s", err, containerd.tail(20))
	}
	start = time.Now()
	for _, img := range images {
		if err := n.Import(ctx, img.Tarball); err != nil {
			return err
		}
		n.Images[img.Name] = img.Ref
		n.tarballs[img.Name] = img.Tarball
	}
	fmt.Fprintf(progress, "imported %d images into containerd in %s\n", len(images), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// writeContainerdConfig writes containerd's config: everything under the
// node's directory, the local pause image as sandbox image, Debian's CNI
// plugins, overlayfs and cgroupfs.
func (n *RealNode) writeContainerdConfig(bins *Binaries, pauseRef string) error {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return err
	}
	cniBin, err := cniBinDir()
	if err != nil {
		return err
	}
	dir := filepath.Join(n.dir, "containerd")
	// restrict_oom_score_adj: root in these VMs lacks CAP_SYS_RESOURCE and
	// cannot lower an oom_score_adj; without it runc fails every sandbox
	// with "can't get final child's PID from pipe: EOF".
	config := fmt.Sprintf(`version = 4
root = %[1]q
state = %[2]q
imports = []
# NRI would listen on /var/run/nri; nothing here uses it.
disabled_plugins = ['io.containerd.nri.v1.nri']

[plugins.'io.containerd.server.v1.grpc']
  address = %[3]q
[plugins.'io.containerd.server.v1.ttrpc']
  address = %[4]q
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[5]q
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%[6]q]
    conf_dir = %[7]q
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    runtime_path = %[8]q
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = %[9]q
      Root = %[10]q
      SystemdCgroup = false
`,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		n.socket, n.socket+".ttrpc",
		pauseRef,
		cniBin, filepath.Join(n.dir, "cni", "net.d"),
		bins.ContainerdShim, runc, filepath.Join(dir, "runc"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("writing the containerd config: %w", err)
	}

	// No ipMasq: Pods have nowhere to go beyond the host, and masquerading
	// adds an iptables chain per Pod.
	network := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kfstack",
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      RealNodeBridge,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": realNodeSubnet}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": filepath.Join(n.dir, "cni", "ipam"),
			},
		}},
	}
	data, err := json.MarshalIndent(network, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.dir, "cni", "net.d", "10-kfstack.conflist"), data, 0o644)
}

// startKubelet registers the real node with the API server and waits until
// it is Ready.
func (c *Cluster) startKubelet(ctx context.Context, bins *Binaries) error {
	n := c.RealNode
	kubeletDir := filepath.Join(n.dir, "kubelet")
	clientCert, clientKey, err := c.keys.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("issuing the kubelet's client certificate: %w", err)
	}
	// The API server checks the kubelet's serving certificate against the
	// cluster CA (logs, exec), so a self-signed one would not do.
	servingCert, servingKey, err := c.keys.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: n.Name},
		DNSNames:    []string{n.Name, "localhost"},
		IPAddresses: []net.IP{net.ParseIP(n.IP), net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("issuing the kubelet's serving certificate: %w", err)
	}
	files := map[string][]byte{
		"kubelet.crt": servingCert, "kubelet.key": servingKey,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["local"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CACert}
	kubeconfig.AuthInfos["kubelet"] = &clientcmdapi.AuthInfo{ClientCertificateData: clientCert, ClientKeyData: clientKey}
	kubeconfig.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "kubelet"}
	kubeconfig.CurrentContext = "local"
	kubeconfigPath := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, kubeconfigPath); err != nil {
		return err
	}

	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	config := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		"kind":       "KubeletConfiguration",
		"address":    n.IP,
		// Free ports: another cluster's kubelet may hold 10250.
		"port":               ports[0],
		"healthzBindAddress": "127.0.0.1",
		"healthzPort":        ports[1],
		"readOnlyPort":       0,
		"tlsCertFile":        filepath.Join(n.dir, "kubelet.crt"),
		"tlsPrivateKeyFile":  filepath.Join(n.dir, "kubelet.key"),
		// Anonymous and AlwaysAllow: the API server proxies logs with its
		// own client certificate; nothing else can reach this port.
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": true},
			"webhook":   map[string]any{"enabled": false},
			"x509":      map[string]any{"clientCAFile": c.pkiFiles["ca.crt"]},
		},
		"authorization":            map[string]any{"mode": "AlwaysAllow"},
		"cgroupDriver":             "cgroupfs",
		"failCgroupV1":             false,
		"failSwapOn":               false,
		"containerRuntimeEndpoint": "unix://" + n.socket,
		"podLogsDir":               filepath.Join(n.dir, "pod-logs"),
		"evictionHard": map[string]string{
			"memory.available":  "100Mi",
			"nodefs.available":  "1%",
			"nodefs.inodesFree": "1%",
			"imagefs.available": "1%",
		},
		// The images were imported, not pulled: collecting them would
		// lose them for good.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"serializeImagePulls":         false,
		// CoreDNS on the node's address (dns.go): Pods resolve Services
		// and the pods of headless Services by name.
		"clusterDNS":    []string{n.IP},
		"clusterDomain": ClusterDomain,
		"registerWithTaints": []corev1.Taint{{
			Key: RealNodeTaint, Value: "true", Effect: corev1.TaintEffectNoSchedule,
		}},
	}
	data, err := yaml.Marshal(config)
	if err != nil {
		return err
	}
	configPath := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(configPath, data, 0o644); err != nil {
		return err
	}
	kubelet, err := c.start("kubelet", bins.Kubelet,
		"--config="+configPath,
		"--kubeconfig="+kubeconfigPath,
		"--root-dir="+kubeletDir,
		"--hostname-override="+n.Name,
		"--node-ip="+n.IP,
		"--node-labels="+RealNodeLabel+"=true",
		"--v=1",
	)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.poll(ctx, 60*time.Second, func() (bool, string, error) {
		// Not found is expected until kubelet registers the node.
		node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		ready := err == nil && NodeSchedulable(node)
		return ready, fmt.Sprintf("node %s is not Ready (%v)", n.Name, err), nil
	}); err != nil {
		return fmt.Errorf("waiting for the real node: %w\n%s", err, kubelet.tail(30))
	}
	fmt.Fprintf(n.log, "real node %s Ready %s after kubelet started\n", n.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// drain deletes the Pods bound to the real node and waits until kubelet
// has stopped their containers and confirmed the deletion.
func (n *RealNode) drain(c *Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	selector := fields.OneTermEqualSelector("spec.nodeName", n.Name).String()
	pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: selector})
	if err != nil {
		return
	}
	grace := int64(1)
	for _, pod := range pods.Items {
		_ = c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	for ctx.Err() == nil {
		left, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil || len(left.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(n.log, "real node: Pods still present after 30s; their containers are killed with containerd\n")
}

// removeTasks kills and removes what is left in containerd once kubelet
// is gone: the shims are outside containerd's process group and outlive it.
func (n *RealNode) removeTasks() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.ctr, "--address", n.socket, "-n", containerdNamespace, "tasks", "ls", "-q").Output()
	if err != nil {
		return
	}
	for _, id := range strings.Fields(string(out)) {
		_ = n.runCtr(ctx, "tasks", "kill", "--all", "--signal", "SIGKILL", id)
		_ = n.runCtr(ctx, "tasks", "delete", "--force", id)
	}
	if out, err = exec.CommandContext(ctx, n.ctr, "--address", n.socket, "-n", containerdNamespace, "containers", "ls", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = n.runCtr(ctx, "containers", "delete", id)
		}
	}
}

// cleanUp removes what the node left on the host after containerd
// stopped: processes of its shims and containers, mounts, the kubepods
// cgroups, the bridge, CNI's cache entries and /run/containerd if it
// was not there before. It reports what it could not remove.
func (n *RealNode) cleanUp(clusterDir string) error {
	var errs []error
	// Processes: the shims, found by containerd's socket on their command
	// line, and whatever still runs in the Pods' cgroups.
	for _, pid := range processesWithArg(n.socket) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range kubepodsProcesses() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := unmountUnder(clusterDir); err != nil {
		errs = append(errs, err)
	}
	for _, p := range n.newHostPaths {
		if err := unmountUnder(p); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeKubepodsCgroups(); err != nil {
		errs = append(errs, err)
	}
	if _, err := net.InterfaceByName(RealNodeBridge); err == nil {
		if out, err := exec.Command("ip", "link", "delete", RealNodeBridge).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting the bridge %s: %w: %s", RealNodeBridge, err, out))
		}
	}
	// libcni caches each attachment's result under /var/lib/cni/results,
	// named after the network, when the directory was there before.
	results, _ := filepath.Glob("/var/lib/cni/results/kfstack-*")
	for _, f := range results {
		_ = os.Remove(f)
	}
	if err := removeNewChains(n.chainsBefore); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		// Recorded for the next start to clean up otherwise.
		_ = n.lock.write(nodeRecord{})
	}
	n.lock.release()
	return errors.Join(errs...)
}

// runCtr runs ctr against the node's containerd in the CRI namespace.
func (n *RealNode) runCtr(ctx context.Context, args ...string) error {
	args = append([]string{"--address", n.socket, "-n", containerdNamespace}, args...)
	out, err := exec.CommandContext(ctx, n.ctr, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args[4:], " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostIP returns the IPv4 address of the interface of the default route,
// or of the first interface that is up: kubelet refuses a loopback node IP.
func hostIP() (string, error) {
	iface := ""
	if f, err := os.Open("/proc/net/route"); err == nil {
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			if len(fields) > 2 && fields[1] == "00000000" {
				iface = fields[0]
				break
			}
		}
		f.Close()
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("listing network interfaces: %w", err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || i.Name == RealNodeBridge || (iface != "" && i.Name != iface) {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipNet, ok := a.(*net.IPNet); ok && ipNet.IP.To4() != nil && ipNet.IP.IsGlobalUnicast() {
				return ipNet.IP.String(), nil
			}
		}
	}
	return "", errors.New("finding the host's IPv4 address for the real node: no interface that is up has one")
}

// nodeLock is the machine's real-node lock. The locked file records the
// running node, so that the next one can clean up after it if its process
// dies before Stop.
type nodeLock struct{ f *os.File }

// nodeRecord is what the lock file records of a running node.
type nodeRecord struct {
	// Dir is the node's directory.
	Dir string `json:"dir,omitempty"`
	// HostPaths are the host paths the node created.
	HostPaths []string `json:"hostPaths,omitempty"`
}

// lockRealNode takes the machine's real-node lock, waiting up to 10
// minutes for another cluster (a test package run in parallel) to stop.
func lockRealNode(ctx context.Context, progress io.Writer) (*nodeLock, error) {
	f, err := os.OpenFile(realNodeLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", realNodeLock, err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for waiting := false; ; waiting = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) || ctx.Err() != nil {
			f.Close()
			return nil, fmt.Errorf("another real node runs on this machine (%s is locked; make cluster-down stops one): %w", realNodeLock, err)
		}
		if !waiting {
			fmt.Fprintf(progress, "waiting for the real node of another cluster to stop (%s)\n", realNodeLock)
		}
		time.Sleep(time.Second)
	}
	return &nodeLock{f: f}, nil
}

func (l *nodeLock) read() (nodeRecord, error) {
	var r nodeRecord
	data, err := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<20))
	if err != nil || len(data) == 0 {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

func (l *nodeLock) write(r nodeRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if r.Dir == "" {
		data = nil
	}
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("writing %s: %w", realNodeLock, err)
	}
	if _, err := l.f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("writing %s: %w", realNodeLock, err)
	}
	return nil
}

func (l *nodeLock) release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

// cleanUpStaleNode removes what a node whose process died left behind:
// its shims and containers, its mounts, its directory, kubelet's cgroups
// and chains, and the host paths it created.
func cleanUpStaleNode(stale nodeRecord) error {
	for _, arg := range []string{
		filepath.Join(stale.Dir, "containerd.sock"),                         // shims
		"--config=" + filepath.Join(stale.Dir, "containerd", "config.toml"), // containerd
		"--root-dir=" + filepath.Join(stale.Dir, "kubelet"),                 // kubelet
	} {
		for _, pid := range processesWithArg(arg) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, pid := range kubepodsProcesses() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	var errs []error
	if err := removeKubepodsCgroups(); err != nil {
		errs = append(errs, err)
	}
	if err := RemoveDir(stale.Dir); err != nil {
		errs = append(errs, err)
	}
	for _, p := range stale.HostPaths {
		if err := RemoveDir(p); err != nil {
			errs = append(errs, err)
		}
	}
	// The chains kubelet makes; the new kubelet makes them again, and
	// its Stop removes them only if they were not there before.
	before := iptablesChains()
	for chain := range before {
		for _, name := range []string{"/KUBE-FIREWALL", "/KUBE-KUBELET-CANARY", "/KUBE-IPTABLES-HINT"} {
			if strings.HasSuffix(chain, name) {
				delete(before, chain)
			}
		}
	}
	if err := removeNewChains(before); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// processesWithExe returns the processes whose executable is named name.
func processesWithExe(name string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && filepath.Base(exe) == name {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processesWithArg returns the processes that have arg on their command
// line.
func processesWithArg(arg string) []int {
	if arg == "" {
		// Every command line ends with an empty argument.
		return nil
	}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
