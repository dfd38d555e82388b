package testcluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// KubernetesVersion is the version of the control-plane binaries that the
// local cluster runs. tools/k8s/go.mod pins the same version.
const KubernetesVersion = "v1.37.2"

// Binaries are the paths of the programs a local cluster runs.
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
	Scheduler         string
	Kubelet           string
	KWOK              string
	// Containerd, ContainerdShim and Ctr are containerd v2, its runc shim
	// and its client, which the real node runs (see Options.RealNode).
	Containerd     string
	ContainerdShim string
	Ctr            string
	// CoreDNS is the real node's cluster DNS (tools/coredns).
	CoreDNS string
	// KWOKStages are the Stage manifests (node and pod lifecycles) that
	// KWOK ships, copied out of its module when it was built.
	KWOKStages []string
}

// toolModule is a wrapper module under tools/ whose packages are built into
// a cache directory keyed by the module's go.mod, go.sum and the Go version,
// so nothing is rebuilt until one of them changes.
type toolModule struct {
	dir      string // below tools/
	packages []string
	ldflags  string
	tags     string
	// after runs once the binaries are built, with the module directory of
	// the tool's source and the output directory.
	after func(ctx context.Context, moduleDir, outDir string) error
}

var (
	kubernetesTools = toolModule{
		dir: "k8s",
		packages: []string{
			"k8s.io/kubernetes/cmd/kube-apiserver",
			"k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler",
			"k8s.io/kubernetes/cmd/kubelet",
		},
		// Without these the servers report v0.0.0-master, which breaks
		// clients that check versions (Helm's kubeVersion).
		ldflags: strings.Join([]string{
			"-s", "-w",
			"-X k8s.io/component-base/version.gitVersion=" + KubernetesVersion,
			"-X k8s.io/component-base/version.gitMajor=1",
			"-X k8s.io/component-base/version.gitMinor=37",
			"-X k8s.io/component-base/version.gitTreeState=clean",
			"-X k8s.io/client-go/pkg/version.gitVersion=" + KubernetesVersion,
			"-X k8s.io/client-go/pkg/version.gitMajor=1",
			"-X k8s.io/client-go/pkg/version.gitMinor=37",
		}, " "),
	}
	// "go build -o dir/ ." names the binary after the module's last path
	// element: etcd.
	etcdTools = toolModule{
		dir:      "etcd",
		packages: []string{"."},
		ldflags:  "-s -w",
	}
	kwokTools = toolModule{
		dir:      "kwok",
		packages: []string{"sigs.k8s.io/kwok/cmd/kwok"},
		ldflags:  "-s -w",
		after:    copyKWOKStages,
	}

	// CoreDNS with the plugins of a cluster DNS only (tools/coredns).
	corednsTools = toolModule{
		dir:      "coredns",
		packages: []string{"."},
		ldflags:  "-s -w",
	}

	// The storage drivers cut by the tags need C libraries and are of no
	// use to the local node, which runs on overlayfs.
	containerdTools = toolModule{
		dir: "containerd",
		packages: []string{
			"github.com/containerd/containerd/v2/cmd/containerd",
			"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
			"github.com/containerd/containerd/v2/cmd/ctr",
		},
		ldflags: "-s -w -X github.com/containerd/containerd/v2/version.Version=" + ContainerdVersion,
		tags:    "no_btrfs no_devmapper no_zfs",
	}
)

// ContainerdVersion is the version of containerd the real node runs;
// tools/containerd/go.mod pins the same version.
const ContainerdVersion = "v2.4.2"

// kwokStageFiles are KWOK's "fast" stages: nodes become Ready at once, pods
// run at once, and Job pods complete.
var kwokStageFiles = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// CacheDir is where built binaries are kept: $KFSTACK_CACHE_DIR, else
// kfstack under the user's cache directory.
func CacheDir() (string, error) {
	if dir := os.Getenv("KFSTACK_CACHE_DIR"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory (set KFSTACK_CACHE_DIR): %w", err)
	}
	return filepath.Join(base, "kfstack"), nil
}

// RepoRoot finds the repository root, the directory holding tools/k8s,
// from $KFSTACK_REPO or by walking up from the working directory.
func RepoRoot() (string, error) {
	if dir := os.Getenv("KFSTACK_REPO"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "k8s", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the kfstack repository root (tools/k8s/go.mod) above the working directory; set KFSTACK_REPO")
		}
		dir = parent
	}
}

// EnsureBinaries builds whatever binaries are missing from the cache and
// returns their paths. The first build of Kubernetes takes 15 to 20 minutes
// on 2 cores; progress is written to progress.
func EnsureBinaries(ctx context.Context, progress io.Writer) (*Binaries, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("creating cache directory %s: %w", cache, err)
	}
	k8s, err := kubernetesTools.ensure(ctx, root, cache, progress)
	if err != nil {
		return nil, err
	}
	etcd, err := etcdTools.ensure(ctx, root, cache, progress)
	if err != nil {
		return nil, err
	}
	kwok, err := kwokTools.ensure(ctx, root, cache, progress)
	if err != nil {
		return nil, err
	}
	containerd, err := containerdTools.ensure(ctx, root, cache, progress)
	if err != nil {
		return nil, err
	}
	coredns, err := corednsTools.ensure(ctx, root, cache, progress)
	if err != nil {
		return nil, err
	}
	b := &Binaries{
		Etcd:              filepath.Join(etcd, "etcd"),
		APIServer:         filepath.Join(k8s, "kube-apiserver"),
		ControllerManager: filepath.Join(k8s, "kube-controller-manager"),
		Scheduler:         filepath.Join(k8s, "kube-scheduler"),
		Kubelet:           filepath.Join(k8s, "kubelet"),
		KWOK:              filepath.Join(kwok, "kwok"),
		Containerd:        filepath.Join(containerd, "containerd"),
		ContainerdShim:    filepath.Join(containerd, "containerd-shim-runc-v2"),
		Ctr:               filepath.Join(containerd, "ctr"),
		CoreDNS:           filepath.Join(coredns, "coredns"),
	}
	for _, f := range kwokStageFiles {
		b.KWOKStages = append(b.KWOKStages, filepath.Join(kwok, "stages", filepath.Base(f)))
	}
	return b, nil
}

// ensure returns the cache directory holding the module's binaries,
// building them first if the directory does not exist yet.
func (t toolModule) ensure(ctx context.Context, root, cache string, progress io.Writer) (string, error) {
	modDir := filepath.Join(root, "tools", t.dir)
	key, err := t.cacheKey(ctx, modDir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, t.dir+"-"+key)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	// Another test package or a make target may be building the same
	// module: take a lock and look again.
	unlock, err := lockFile(filepath.Join(cache, t.dir+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	tmp := out + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	fmt.Fprintf(progress, "building tools/%s (%s) into %s; this happens once per version\n", t.dir, strings.Join(t.packages, ", "), out)
	args := []string{"build", "-v", "-ldflags", t.ldflags, "-o", tmp + string(filepath.Separator)}
	if t.tags != "" {
		args = append(args, "-tags", t.tags)
	}
	args = append(args, t.packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = modDir
	if err := runWithProgress(cmd, progress, "tools/"+t.dir); err != nil {
		return "", fmt.Errorf("building tools/%s: %w", t.dir, err)
	}
	if t.after != nil {
		srcDir, err := moduleSourceDir(ctx, modDir, t.packages[0])
		if err != nil {
			return "", err
		}
		if err := t.after(ctx, srcDir, tmp); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "built tools/%s in %s\n", t.dir, time.Since(start).Round(time.Second))
	return out, nil
}

// cacheKey hashes what determines the build: go.mod, go.sum, the Go
// version and the flags.
func (t toolModule) cacheKey(ctx context.Context, modDir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(modDir, name))
		if err != nil {
			return "", fmt.Errorf("reading tools/%s/%s: %w", t.dir, name, err)
		}
		h.Write(data)
	}
	goVersion, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("asking go for its version: %w", err)
	}
	h.Write(goVersion)
	fmt.Fprint(h, t.ldflags, t.tags, t.packages)
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// moduleSourceDir returns the directory of the module that provides pkg,
// as resolved from modDir.
func moduleSourceDir(ctx context.Context, modDir, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Module.Dir}}", pkg)
	cmd.Dir = modDir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the source of %s: %w", pkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func copyKWOKStages(_ context.Context, moduleDir, outDir string) error {
	stages := filepath.Join(outDir, "stages")
	if err := os.MkdirAll(stages, 0o755); err != nil {
		return err
	}
	for _, f := range kwokStageFiles {
		data, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			return fmt.Errorf("reading KWOK stage %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(stages, filepath.Base(f)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runWithProgress runs a "go build -v" and reports, every 30 seconds, how
// many packages it has compiled, so a long first build is visibly alive.
func runWithProgress(cmd *exec.Cmd, progress io.Writer, what string) error {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	var tail []string
	compiled := 0
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	ticker := time.NewTicker(30 * time.Second)
	defer ticker.Stop()
	start := time.Now()
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			if strings.HasPrefix(line, "#") || strings.Contains(line, ":") {
				tail = append(tail, line)
				if len(tail) > 40 {
					tail = tail[1:]
				}
			} else {
				compiled++
			}
		case <-ticker.C:
			fmt.Fprintf(progress, "  %s: %d packages compiled after %s\n", what, compiled, time.Since(start).Round(time.Second))
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.Join(tail, "\n"))
	}
	return nil
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
