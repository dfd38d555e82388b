package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho tool\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Layers: [][]File{
			{
				{Path: "/usr/local/bin/tool", Source: bin, Mode: 0o755},
				{Path: "etc/tool.conf", Content: []byte("verbose = true\n")},
				{Path: "/bin/t", Symlink: "/usr/local/bin/tool"},
				{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
			},
			{{Path: "/data/readme", Content: []byte("second layer")}},
		},
		Entrypoint: []string{"/usr/local/bin/tool"},
		Cmd:        []string{"--help"},
		Env:        []string{"PATH=/usr/local/bin:/bin"},
		WorkingDir: "/data",
		User:       "65534",
		Labels:     map[string]string{"org.opencontainers.image.source": "https://github.com/kfstack/terraform-provider-kubeflow"},
	}
	img, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	if !reflect.DeepEqual(cfg.Config.Entrypoint, spec.Entrypoint) || !reflect.DeepEqual(cfg.Config.Cmd, spec.Cmd) ||
		!reflect.DeepEqual(cfg.Config.Env, spec.Env) || cfg.Config.WorkingDir != "/data" || cfg.Config.User != "65534" ||
		cfg.Config.Labels["org.opencontainers.image.source"] == "" {
		t.Errorf("config = %+v", cfg.Config)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 || len(cfg.RootFS.DiffIDs) != 2 {
		t.Fatalf("%d layers and %d diff IDs, want 2", len(layers), len(cfg.RootFS.DiffIDs))
	}
	entries := layerEntries(t, layers[0])
	want := map[string]string{
		"bin/":               "dir 0755",
		"bin/t":              "symlink /usr/local/bin/tool",
		"etc/":               "dir 0755",
		"etc/tool.conf":      "file 0644 verbose = true\n",
		"tmp/":               "dir 1777",
		"usr/":               "dir 0755",
		"usr/local/":         "dir 0755",
		"usr/local/bin/":     "dir 0755",
		"usr/local/bin/tool": "file 0755 #!/bin/sh\necho tool\n",
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("first layer:\n got %q\nwant %q", entries, want)
	}

	// Same files, same digests: the build is reproducible.
	again, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same spec: digests %s and %s", d1, d2)
	}

	// An image on a base keeps the base's layers and config.
	child, err := Build(Spec{Base: img, Layers: [][]File{{{Path: "/extra", Content: []byte("x")}}}, Entrypoint: []string{"/extra"}})
	if err != nil {
		t.Fatal(err)
	}
	childCfg, _ := child.ConfigFile()
	childLayers, _ := child.Layers()
	if len(childLayers) != 3 || !reflect.DeepEqual(childCfg.Config.Env, spec.Env) || childCfg.Config.Cmd != nil {
		t.Errorf("child image: %d layers, config %+v; want 3 layers, the base's Env and no Cmd", len(childLayers), childCfg.Config)
	}
}

func TestNewLayerRejects(t *testing.T) {
	if _, err := NewLayer([]File{{Path: "/"}}); err == nil {
		t.Error("a layer entry for / was accepted")
	}
	if _, err := NewLayer([]File{{Path: "/a", Content: []byte("1")}, {Path: "a", Content: []byte("2")}}); err == nil {
		t.Error("a path listed twice was accepted")
	}
	if _, err := NewLayer([]File{{Path: "/missing", Source: "/does/not/exist"}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing source: %v, want not exist", err)
	}
}

func TestWriteTarball(t *testing.T) {
	img, err := Build(Spec{Layers: [][]File{{{Path: "/hello", Content: []byte("hi"), Mode: 0o755}}}, Entrypoint: []string{"/hello"}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "hello.tar")
	if err := WriteTarball(file, Ref("hello", "v1"), img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("kfstack.local/hello:v1")
	read, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, _ := read.Digest(); got != want {
		t.Errorf("image read back has digest %s, want %s", got, want)
	}
	for _, ref := range []string{"kfstack.local/hello:latest", "kfstack.local/hello", "Not A Ref"} {
		if err := WriteTarball(file, ref, img); err == nil {
			t.Errorf("WriteTarball(%q) succeeded, want an error", ref)
		}
	}
}

func TestBuildLocal(t *testing.T) {
	if _, err := os.Stat(DefaultBusybox); err != nil {
		t.Skipf("no %s (apt-get install busybox-static): %v", DefaultBusybox, err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	built, err := BuildLocal(context.Background(), LocalOptions{RepoRoot: root, OutDir: out, Tag: "test", Images: []string{PauseImage, BaseImage}})
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != 2 || built[0].Ref != "kfstack.local/pause:test" || built[1].Ref != "kfstack.local/base:test" {
		t.Fatalf("built %+v", built)
	}
	base := readTarball(t, built[1])
	entries := map[string]string{}
	layers, _ := base.Layers()
	for _, l := range layers {
		for k, v := range layerEntries(t, l) {
			entries[k] = v
		}
	}
	if !strings.HasPrefix(entries["bin/busybox"], "file 0755") || entries["bin/sh"] != "symlink busybox" || entries["bin/cp"] != "symlink busybox" {
		t.Errorf("base image lacks busybox, sh or cp: busybox %.20q, sh %q, cp %q", entries["bin/busybox"], entries["bin/sh"], entries["bin/cp"])
	}
	pause := readTarball(t, built[0])
	cfg, _ := pause.ConfigFile()
	if !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/pause"}) {
		t.Errorf("pause entrypoint %v", cfg.Config.Entrypoint)
	}

	if _, err := BuildLocal(context.Background(), LocalOptions{RepoRoot: root, OutDir: out, Tag: "latest"}); err == nil {
		t.Error("BuildLocal with the latest tag succeeded")
	}
}

// TestBuildLocalRuntime builds the runtime image from a stand-in for the
// runtime package, in a module of its own.
func TestBuildLocalRuntime(t *testing.T) {
	if _, err := os.Stat(DefaultBusybox); err != nil {
		t.Skipf("no %s (apt-get install busybox-static): %v", DefaultBusybox, err)
	}
	root := t.TempDir()
	pkg := filepath.Join(root, RuntimePackage)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/standin\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte("package main\n\nfunc main() { println(\"launch\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	built, err := BuildLocal(context.Background(), LocalOptions{RepoRoot: root, OutDir: t.TempDir(), Tag: "v0.1.0", Images: []string{RuntimeImage}})
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != 1 || built[0].Ref != "kfstack.local/runtime:v0.1.0" {
		t.Fatalf("built %+v", built)
	}
	img := readTarball(t, built[0])
	cfg, _ := img.ConfigFile()
	layers, _ := img.Layers()
	if !reflect.DeepEqual(cfg.Config.Entrypoint, []string{v1alpha1.RuntimeBinaryPath}) || len(layers) != 2 {
		t.Errorf("runtime image: entrypoint %v, %d layers; want %s on the base's layer", cfg.Config.Entrypoint, len(layers), v1alpha1.RuntimeBinaryPath)
	}
	if got := layerEntries(t, layers[1])[strings.TrimPrefix(v1alpha1.RuntimeBinaryPath, "/")]; !strings.HasPrefix(got, "file 0755 \x7fELF") {
		t.Errorf("runtime binary entry %.20q, want an executable ELF file", got)
	}
}

func readTarball(t *testing.T, b Built) v1.Image {
	t.Helper()
	tag, err := name.NewTag(b.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(b.Tarball, &tag)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerEntries describes each entry of a layer: kind, mode and content.
func layerEntries(t *testing.T, layer v1.Layer) map[string]string {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d, time %s; want root and 1970", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			entries[hdr.Name] = "dir " + modeString(hdr.Mode)
		case tar.TypeSymlink:
			entries[hdr.Name] = "symlink " + hdr.Linkname
		default:
			data, _ := io.ReadAll(tr)
			entries[hdr.Name] = "file " + modeString(hdr.Mode) + " " + string(data)
		}
	}
}

func modeString(m int64) string {
	return fmt.Sprintf("%04o", m)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCompileReportsProgress: a compile that takes longer than the
// progress interval says so while it runs (the first static build of the
// runtime takes minutes, and kfstack-cluster shows it).
func TestCompileReportsProgress(t *testing.T) {
	defer func(d time.Duration) { compileProgressEvery = d }(compileProgressEvery)
	compileProgressEvery = time.Millisecond
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var progress syncBuffer
	if err := compile(context.Background(), root, PausePackage, filepath.Join(t.TempDir(), "pause"), &progress); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "still compiling "+PausePackage) {
		t.Errorf("progress %q", progress.String())
	}
}
