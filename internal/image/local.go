package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Registry is the registry host of the images built here. Nothing serves
// it: containerd knows the images by name once they are imported, and a
// release retags them for a real registry.
const Registry = "kfstack.local"

// Names of the images the project builds.
const (
	// PauseImage holds the sandbox process of every Pod on the real node.
	PauseImage = "pause"
	// BaseImage is a small shell environment (BusyBox) for test Pods and
	// for running container components whose images are mirrored to it.
	BaseImage = "base"
	// RuntimeImage holds the runtime binary; task Pods copy its launcher
	// from it with an init container.
	RuntimeImage = "runtime"
)

// RuntimePackage is the Go package of the runtime binary, relative to the
// repository root.
const RuntimePackage = "./runtime/cmd/kfstack-runtime"

// PausePackage is the Go package of the sandbox process.
const PausePackage = "./internal/image/pause"

// DefaultBusybox is where Debian's busybox-static package installs BusyBox.
const DefaultBusybox = "/bin/busybox"

// Ref returns the reference of one of the project's images.
func Ref(image, tag string) string {
	return Registry + "/" + image + ":" + tag
}

// LocalOptions say where the project's images are built from and to.
type LocalOptions struct {
	// RepoRoot is the repository whose Go packages are compiled.
	RepoRoot string
	// OutDir receives one tarball per image, <image>.tar.
	OutDir string
	// Tag is the tag of every image; never "latest".
	Tag string
	// Busybox is a statically linked BusyBox; DefaultBusybox when empty.
	Busybox string
	// Images are the images to build; all that can be built when empty
	// (the runtime image only if RuntimePackage exists).
	Images []string
	// Progress receives a line per image built; io.Discard when nil.
	Progress io.Writer
}

// Built is an image tarball written by BuildLocal.
type Built struct {
	// Name is the image's name: PauseImage, BaseImage or RuntimeImage.
	Name string
	// Ref is the image's reference, as Pods name it.
	Ref string
	// Tarball is the path of the image tarball.
	Tarball string
}

// BuildLocal compiles the project's binaries for linux/amd64 and builds
// its images: the sandbox image, the base image and, when the runtime
// package exists, the runtime image on top of the base image.
func BuildLocal(ctx context.Context, opts LocalOptions) ([]Built, error) {
	if opts.Tag == "" || opts.Tag == "latest" {
		return nil, fmt.Errorf("image tag %q: give a version, never latest", opts.Tag)
	}
	if opts.Busybox == "" {
		opts.Busybox = DefaultBusybox
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	wanted := map[string]bool{}
	for _, name := range opts.Images {
		if name != PauseImage && name != BaseImage && name != RuntimeImage && name != PythonImage {
			return nil, fmt.Errorf("unknown image %q: the images are %s, %s, %s and %s", name, PauseImage, BaseImage, RuntimeImage, PythonImage)
		}
		wanted[name] = true
	}
	pythonPackages := map[string]string{}
	if len(opts.Images) == 0 {
		wanted[PauseImage], wanted[BaseImage] = true, true
		if _, err := os.Stat(filepath.Join(opts.RepoRoot, RuntimePackage)); err == nil {
			wanted[RuntimeImage] = true
		}
		// The Python image is made of this machine's Debian packages:
		// built where they are installed.
		if pkgs, err := DebianPackages(ctx, PythonPackages); err == nil {
			wanted[PythonImage], pythonPackages = true, pkgs
		} else {
			fmt.Fprintf(progress, "not building image %s: %v\n", PythonImage, err)
		}
	} else if wanted[PythonImage] {
		pkgs, err := DebianPackages(ctx, PythonPackages)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", PythonImage, err)
		}
		pythonPackages = pkgs
	}
	binDir := filepath.Join(opts.OutDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", binDir, err)
	}

	var built []Built
	write := func(name string, img Spec) error {
		start := time.Now()
		image, err := Build(img)
		if err != nil {
			return fmt.Errorf("building image %s: %w", name, err)
		}
		b := Built{Name: name, Ref: Ref(name, opts.Tag), Tarball: filepath.Join(opts.OutDir, name+".tar")}
		if err := WriteTarball(b.Tarball, b.Ref, image); err != nil {
			return err
		}
		fmt.Fprintf(progress, "built image %s (%s) in %s\n", b.Ref, b.Tarball, time.Since(start).Round(time.Millisecond))
		built = append(built, b)
		return nil
	}

	if wanted[PauseImage] {
		pause := filepath.Join(binDir, "pause")
		if err := compile(ctx, opts.RepoRoot, PausePackage, pause, progress); err != nil {
			return nil, err
		}
		if err := write(PauseImage, Spec{
			Layers:     [][]File{{{Path: "/pause", Source: pause, Mode: 0o755}}},
			Entrypoint: []string{"/pause"},
		}); err != nil {
			return nil, err
		}
	}
	if !wanted[BaseImage] && !wanted[RuntimeImage] && !wanted[PythonImage] {
		return built, nil
	}
	baseSpec, err := baseSpec(ctx, opts.Busybox)
	if err != nil {
		return nil, err
	}
	if wanted[BaseImage] {
		if err := write(BaseImage, baseSpec); err != nil {
			return nil, err
		}
	}
	if wanted[PythonImage] {
		layer, err := DebianLayer(ctx, pythonPackages, filepath.Join(opts.OutDir, "debian"))
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", PythonImage, err)
		}
		base, err := Build(baseSpec)
		if err != nil {
			return nil, fmt.Errorf("building the Python image's base image: %w", err)
		}
		if err := write(PythonImage, Spec{
			Base:   base,
			Layers: [][]File{layer},
			Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
			Cmd:    []string{"/usr/bin/python3"},
			Labels: map[string]string{"dev.kfstack.debian-packages": fmt.Sprint(len(pythonPackages))},
		}); err != nil {
			return nil, err
		}
	}
	if wanted[RuntimeImage] {
		runtime := filepath.Join(binDir, "kfstack-runtime")
		if err := compile(ctx, opts.RepoRoot, RuntimePackage, runtime, progress); err != nil {
			return nil, err
		}
		base, err := Build(baseSpec)
		if err != nil {
			return nil, fmt.Errorf("building the runtime's base image: %w", err)
		}
		if err := write(RuntimeImage, Spec{
			Base:       base,
			Layers:     [][]File{{{Path: v1alpha1.RuntimeBinaryPath, Source: runtime, Mode: 0o755}}},
			Entrypoint: []string{v1alpha1.RuntimeBinaryPath},
		}); err != nil {
			return nil, err
		}
	}
	return built, nil
}

// baseSpec describes the base image: BusyBox with each of its applets
// linked under /bin, a writable /tmp, and root and nobody users.
func baseSpec(ctx context.Context, busybox string) (Spec, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return Spec{}, fmt.Errorf("listing the applets of %s (install Debian's busybox-static): %w", busybox, err)
	}
	files := []File{
		{Path: "/bin/busybox", Source: busybox, Mode: 0o755},
		{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/etc/passwd", Content: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Content: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		files = append(files, File{Path: "/bin/" + applet, Symlink: "busybox"})
	}
	return Spec{
		Layers: [][]File{files},
		Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd:    []string{"/bin/sh"},
	}, nil
}

// compileProgressEvery is how often a compile that takes long says so.
var compileProgressEvery = 15 * time.Second

// compile builds a static linux/amd64 binary of pkg into out. No
// -trimpath: with it nothing would be shared with the build cache of the
// tests and of "go build", and a first runtime image would compile every
// dependency again. The first static build of the runtime takes over a
// minute on 2 cores: progress hears of it.
func compile(ctx context.Context, repoRoot, pkg, out string, progress io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	start := time.Now()
	done := make(chan struct{})
	defer close(done)
	go func() {
		ticker := time.NewTicker(compileProgressEvery)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				fmt.Fprintf(progress, "  still compiling %s (%s; the first static build takes a minute or two)\n", pkg, time.Since(start).Round(time.Second))
			}
		}
	}()
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compiling %s: %w\n%s", pkg, err, output)
	}
	return nil
}
