package image

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Images from Debian packages, without a container engine: the packages
// and their dependencies (as apt resolves them on this machine, so the
// same release as its own compilers and libraries, unless a build names
// another Debian release: see aptSource) are downloaded with
// apt-get download, unpacked with dpkg-deb into a root filesystem laid out
// as Debian's merged /usr (/bin, /sbin and /lib are links into /usr), and
// taken as one layer. Maintainer scripts do not run: what they would make
// (users, configuration) the image's own layer adds.

// debianTools are the programs this needs.
var debianTools = []string{"apt-get", "apt-cache", "dpkg-deb"}

// checkDebianTools says which of debianTools are missing.
func checkDebianTools() error {
	for _, t := range debianTools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("building images from Debian packages needs %s (a Debian or Ubuntu machine)", t)
		}
	}
	return nil
}

// aptSource is where a build's packages come from: this machine's apt
// (Suite empty: its own release, as its compilers and libraries), or
// another suite of the Debian archive this machine's apt already uses,
// read with a private configuration in Dir (its own sources list, package
// lists and an empty dpkg status), so that the machine's apt state is left
// alone and its trusted keys still check the archive's signatures.
type aptSource struct {
	Suite string
	Dir   string
}

// options are the apt options that point apt-get and apt-cache at the
// source.
func (s aptSource) options() []string {
	if s.Suite == "" {
		return nil
	}
	opts := map[string]string{
		"Dir::Etc::SourceList":       filepath.Join(s.Dir, "sources.list"),
		"Dir::Etc::SourceParts":      filepath.Join(s.Dir, "sources.list.d"),
		"Dir::Etc::Preferences":      filepath.Join(s.Dir, "preferences"),
		"Dir::Etc::PreferencesParts": filepath.Join(s.Dir, "preferences.d"),
		"Dir::State::Lists":          filepath.Join(s.Dir, "lists"),
		"Dir::State::status":         filepath.Join(s.Dir, "status"),
		"Dir::Cache":                 filepath.Join(s.Dir, "cache"),
		"Acquire::Languages":         "none",
		"APT::Sandbox::User":         "root",
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		args = append(args, "-o", k+"="+opts[k])
	}
	return args
}

// aptListsMaxAge is how old a private source's package lists may be before
// the next build updates them.
const aptListsMaxAge = 24 * time.Hour

// prepare writes the private configuration of a suite (the Debian archive
// of this machine's own sources, main component) and updates its package
// lists when they are missing or older than aptListsMaxAge.
func (s aptSource) prepare(ctx context.Context) error {
	if s.Suite == "" {
		return nil
	}
	for _, d := range []string{"sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	archive, err := debianArchive(ctx)
	if err != nil {
		return err
	}
	sources := []byte(fmt.Sprintf("deb %s %s main\n", archive, s.Suite))
	old, _ := os.ReadFile(filepath.Join(s.Dir, "sources.list"))
	if !bytes.Equal(old, sources) {
		if err := os.WriteFile(filepath.Join(s.Dir, "sources.list"), sources, 0o644); err != nil {
			return err
		}
		// Lists of another archive are stale.
		if err := os.RemoveAll(filepath.Join(s.Dir, "lists", "updated")); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "status"), nil, 0o644); err != nil {
		return err
	}
	stamp := filepath.Join(s.Dir, "lists", "updated")
	info, err := os.Stat(stamp)
	if err == nil && time.Since(info.ModTime()) < aptListsMaxAge {
		return nil
	}
	if uerr := s.update(ctx); uerr != nil && err != nil {
		// Older lists still serve a machine that is offline now: the
		// packages they name may well be in the cache.
		return uerr
	}
	return nil
}

// update runs apt-get update on the private source.
func (s aptSource) update(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "apt-get", append(s.options(), "update", "-q")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("reading the package lists of Debian %s: %w\n%s", s.Suite, err, out)
	}
	return os.WriteFile(filepath.Join(s.Dir, "lists", "updated"), nil, 0o644)
}

// debianArchive is the address of the Debian archive this machine's apt
// reads (its main component, not the security archive).
func debianArchive(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-get", "indextargets", "--format", "$(LABEL)|$(TARGET_OF)|$(REPO_URI)", "Identifier: Packages").Output()
	if err != nil {
		return "", fmt.Errorf("reading this machine's apt sources: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) == 3 && f[0] == "Debian" && f[1] == "deb" {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("this machine's apt reads no Debian archive (its sources have no Debian main), so packages of another Debian release cannot be fetched")
}

// packageClosure is pkgs and every package they depend on, recursively,
// without recommends and suggests.
func packageClosure(ctx context.Context, src aptSource, pkgs []string) ([]string, error) {
	args := append(src.options(), "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances")
	out, err := exec.CommandContext(ctx, "apt-cache", append(args, pkgs...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("resolving the dependencies of %s (apt-get update first?): %w", strings.Join(pkgs, " "), err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		// Packages are the unindented lines; <virtual> ones have no file.
		if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "<") {
			continue
		}
		seen[line] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// downloadPackages downloads the closure of pkgs from src into dir (a
// cache: files already there are kept) and returns the .deb files.
func downloadPackages(ctx context.Context, src aptSource, dir string, pkgs []string) ([]string, error) {
	if err := checkDebianTools(); err != nil {
		return nil, err
	}
	if err := src.prepare(ctx); err != nil {
		return nil, err
	}
	names, err := packageClosure(ctx, src, pkgs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	have := map[string]string{}
	existing, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	for _, f := range existing {
		have[strings.SplitN(filepath.Base(f), "_", 2)[0]] = f
	}
	var missing []string
	for _, n := range names {
		if _, ok := have[strings.SplitN(n, ":", 2)[0]]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		download := func() ([]byte, error) {
			cmd := exec.CommandContext(ctx, "apt-get", append(append(src.options(), "download", "-q"), missing...)...)
			cmd.Dir = dir
			return cmd.CombinedOutput()
		}
		out, err := download()
		if err != nil && src.Suite != "" {
			// The lists may name versions the archive has replaced
			// since: read them again once.
			if uerr := src.update(ctx); uerr == nil {
				out, err = download()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("downloading Debian packages: %w\n%s", err, out)
		}
	}
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil {
		return nil, err
	}
	var out []string
	want := map[string]bool{}
	for _, n := range names {
		want[strings.SplitN(n, ":", 2)[0]] = true
	}
	for _, d := range debs {
		if want[strings.SplitN(filepath.Base(d), "_", 2)[0]] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out, nil
}

// mergedUsr maps the top-level directories that merged /usr turns into
// links.
var mergedUsr = map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

// unpackPackages unpacks debs into root, moving /bin, /sbin, /lib and
// /lib64 under /usr.
func unpackPackages(ctx context.Context, debs []string, root string) error {
	tmp := root + ".unpack"
	for _, deb := range debs {
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, tmp).CombinedOutput(); err != nil {
			return fmt.Errorf("unpacking %s: %w\n%s", filepath.Base(deb), err, out)
		}
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return err
		}
		for _, e := range entries {
			to := e.Name()
			if merged, ok := mergedUsr[e.Name()]; ok {
				if e.Type()&fs.ModeSymlink != 0 {
					// Packages of a merged-/usr release (base-files
					// from Debian 13 on) ship the links themselves;
					// they are made below.
					continue
				}
				to = merged
			}
			if err := mergeTree(filepath.Join(tmp, e.Name()), filepath.Join(root, to)); err != nil {
				return fmt.Errorf("unpacking %s: %w", filepath.Base(deb), err)
			}
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	for link, target := range mergedUsr {
		if err := os.MkdirAll(filepath.Join(root, target), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}

// mergeTree moves the tree at src into dst, replacing files dst has.
func mergeTree(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		_ = os.Remove(dst)
		return os.Rename(src, dst)
	}
	if dinfo, err := os.Lstat(dst); err != nil || !dinfo.IsDir() {
		_ = os.RemoveAll(dst)
		if err := os.MkdirAll(dst, info.Mode().Perm()); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := mergeTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// leaveOut are the parts of a Debian root filesystem an image does not
// need: documentation, manuals and translations.
var leaveOut = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian", "usr/share/bug"}

// treeFiles lists the files, directories and links under root as layer
// entries, root-owned, with their permission bits (setuid kept).
func treeFiles(root string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		for _, skip := range leaveOut {
			if rel == skip || strings.HasPrefix(rel, skip+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := File{Path: "/" + filepath.ToSlash(rel), Mode: info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			f.Symlink = target
		case info.IsDir():
			f.Dir = true
		case info.Mode().IsRegular():
			f.Source = p
		default:
			return nil // devices and pipes: none in packages' data
		}
		files = append(files, f)
		return nil
	})
	return files, err
}
