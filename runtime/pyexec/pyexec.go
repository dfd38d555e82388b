// Package pyexec lets the launcher run KFP Python-function components where
// the `kfp` package is not installed and cannot be installed (air-gapped
// clusters, images without pip, no package index).
//
// It ships, inside the runtime binary, kfstack's own implementation of the
// executor protocol and of the runtime side of `kfp.dsl` (python/kfp,
// standard library only), recognises the shell prelude the KFP SDK puts in
// front of every Python component (`pip install kfp==... && "$0" "$@"`),
// and reads which packages that prelude would install, so that the
// launcher can skip it, check the packages against the task's interpreter
// (python/kfstack_check.py) and run the component with the real `kfp` or
// with this one.
package pyexec

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

//go:embed all:python
var files embed.FS

// version identifies the embedded files; Install writes them into a
// directory named after it, so binaries of different versions never mix.
var version = func() string {
	h := sha256.New()
	_ = fs.WalkDir(files, "python", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}()

var installMu sync.Mutex

// Install writes the embedded Python package under dir (once per version)
// and returns the directory to put on PYTHONPATH. Concurrent installs (the
// local executor's parallel tasks, several launchers sharing a volume) are
// safe: files go to a temporary directory renamed into place.
func Install(dir string) (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	dst := filepath.Join(dir, "kfstack-python-"+version)
	if _, err := os.Stat(filepath.Join(dst, "kfstack_check.py")); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("installing kfstack's kfp package: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".kfstack-python-")
	if err != nil {
		return "", fmt.Errorf("installing kfstack's kfp package: %w", err)
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(files, "python", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "python"), "/")
		target := filepath.Join(tmp, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("installing kfstack's kfp package: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("installing kfstack's kfp package: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dst, "kfstack_check.py")); statErr != nil {
			return "", fmt.Errorf("installing kfstack's kfp package: %w", err)
		}
	}
	return dst, nil
}

// CheckSource is the requirement checker (kfstack_check.py), run as
// `python3 - REQUIREMENT...` with the source on standard input, so that
// nothing beside the script shadows what the interpreter has installed.
func CheckSource() []byte {
	b, _ := files.ReadFile("python/kfstack_check.py")
	return b
}

// Version identifies the embedded package.
func Version() string { return version }
