// Package image builds container images from local files, without a
// container engine and without a registry: a layer is a tar of the files,
// the image is those layers on an empty image with an explicit linux/amd64
// config, and the result is an image tarball (the format of "docker save")
// that containerd imports with "ctr images import" and that a release can
// push to a registry. Layers are reproducible: same files, same digest.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of a layer.
type File struct {
	// Path is the absolute path inside the image.
	Path string
	// Source is a file on disk whose content the entry gets.
	Source string
	// Content is the entry's content when Source is empty.
	Content []byte
	// Symlink makes the entry a symbolic link to this target.
	Symlink string
	// Dir makes the entry a directory.
	Dir bool
	// Mode holds the permission bits; 0755 for directories and 0644 for
	// files when zero.
	Mode os.FileMode
	// UID and GID own the entry (root when zero), such as a non-root
	// user's home directory.
	UID, GID int
}

// Spec describes an image.
type Spec struct {
	// Base is the image whose layers and config come first; an empty
	// image when nil.
	Base v1.Image
	// Layers are added on top of Base, one layer for each list of files.
	Layers [][]File
	// Entrypoint, Cmd, Env, WorkingDir and User are the image config's
	// fields; empty ones keep Base's.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	// Labels are added to the image config's labels.
	Labels map[string]string
}

// layerTime is the modification time of every entry, so that a layer's
// digest depends on its files only.
var layerTime = time.Unix(0, 0).UTC()

// Build assembles the image that spec describes, for linux/amd64.
func Build(spec Spec) (v1.Image, error) {
	img := spec.Base
	if img == nil {
		img = empty.Image
	}
	for i, files := range spec.Layers {
		layer, err := NewLayer(files)
		if err != nil {
			return nil, fmt.Errorf("building layer %d: %w", i, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, fmt.Errorf("appending layer %d: %w", i, err)
		}
	}
	current, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	cfg := current.DeepCopy()
	// Set explicitly: an empty image has no platform, and containerd then
	// refuses to unpack it for the host's.
	cfg.OS = "linux"
	cfg.Architecture = "amd64"
	if spec.Entrypoint != nil {
		cfg.Config.Entrypoint = spec.Entrypoint
		// A base image's Cmd holds arguments for its own entrypoint.
		cfg.Config.Cmd = nil
	}
	if spec.Cmd != nil {
		cfg.Config.Cmd = spec.Cmd
	}
	if spec.Env != nil {
		cfg.Config.Env = spec.Env
	}
	if spec.WorkingDir != "" {
		cfg.Config.WorkingDir = spec.WorkingDir
	}
	if spec.User != "" {
		cfg.Config.User = spec.User
	}
	if len(spec.Labels) > 0 && cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for k, v := range spec.Labels {
		cfg.Config.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the image config: %w", err)
	}
	return img, nil
}

// NewLayer returns a layer holding files. Parent directories that files
// do not list are added with mode 0755; entries are sorted by path, owned
// by root and dated 1970, so the same files give the same digest.
func NewLayer(files []File) (v1.Layer, error) {
	entries := map[string]File{}
	for _, f := range files {
		clean := path.Clean("/" + f.Path)
		if clean == "/" {
			return nil, fmt.Errorf("file %q: the root cannot be a layer entry", f.Path)
		}
		if _, dup := entries[clean]; dup {
			return nil, fmt.Errorf("file %s is listed twice", clean)
		}
		f.Path = clean
		entries[clean] = f
		for dir := path.Dir(clean); dir != "/"; dir = path.Dir(dir) {
			if _, ok := entries[dir]; !ok {
				entries[dir] = File{Path: dir, Dir: true}
			}
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		if err := writeEntry(tw, entries[p]); err != nil {
			return nil, fmt.Errorf("adding %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

func writeEntry(tw *tar.Writer, f File) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(f.Path, "/"),
		ModTime: layerTime,
		Format:  tar.FormatPAX,
		Mode:    int64(f.Mode.Perm()),
		Uid:     f.UID,
		Gid:     f.GID,
	}
	if f.Mode&os.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	if f.Mode&os.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if f.Mode&os.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	switch {
	case f.Dir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if f.Mode == 0 {
			hdr.Mode = 0o755
		}
		return tw.WriteHeader(hdr)
	case f.Symlink != "":
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Symlink
		hdr.Mode = 0o777
		return tw.WriteHeader(hdr)
	}
	content := f.Content
	if f.Source != "" {
		var err error
		if content, err = os.ReadFile(f.Source); err != nil {
			return err
		}
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = int64(len(content))
	if f.Mode == 0 {
		hdr.Mode = 0o644
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(content)
	return err
}

// WriteTarball writes img, named ref, as an image tarball at file.
func WriteTarball(file, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	if tag.TagStr() == "latest" {
		// A :latest image is always pulled by kubelet, and there is no
		// registry to pull it from.
		return fmt.Errorf("image reference %q: refusing the latest tag", ref)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		return fmt.Errorf("writing image %s to %s: %w", ref, file, err)
	}
	return nil
}
