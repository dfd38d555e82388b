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
	"regexp"
	"slices"
	"strings"
)

// PythonImage is Python 3 with scikit-learn, from Debian's packages, on the
// base image: what Python-function components (examples/sklearn) run in on
// the real node, in place of python:3.11 by an image rule.
const PythonImage = "python-sklearn"

// PythonPackages are the Debian packages of PythonImage; their
// dependencies come along.
var PythonPackages = []string{"python3", "python3-sklearn"}

// buildOnly are packages that Debian's dependencies pull in for building
// software (SciPy depends on the Pythran compiler, which depends on GCC),
// never used when the image runs Python code: left out, with what only
// they need.
func buildOnly(name string) bool {
	switch name {
	case "python3-pythran", "dpkg", "init-system-helpers", "python3-dev", "python3-all-dev", "python3.11-dev":
		return true
	}
	return strings.HasSuffix(name, "-dev") || strings.HasPrefix(name, "gcc-") || strings.HasPrefix(name, "g++") ||
		strings.HasPrefix(name, "cpp") || strings.HasPrefix(name, "binutils")
}

// DebianPackages resolves the Debian packages an image needs: the given
// ones and, recursively, what they depend on (Pre-Depends and Depends; of
// alternatives, the first one installed on this machine). They must be
// installed here: the machine that builds the image is where it was
// tried. It returns the packages with their installed versions.
func DebianPackages(ctx context.Context, roots []string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Status}\t${Provides}\t${Pre-Depends}, ${Depends}\n").Output()
	if err != nil {
		return nil, fmt.Errorf("listing Debian's installed packages (dpkg-query): %w", err)
	}
	type pkg struct{ version, deps string }
	installed := map[string]pkg{}
	provides := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 || !strings.HasSuffix(f[2], " installed") {
			continue
		}
		name := strings.SplitN(f[0], ":", 2)[0]
		installed[name] = pkg{f[1], f[4]}
		for _, p := range splitDeps(f[3]) {
			if _, ok := provides[p]; !ok {
				provides[p] = name
			}
		}
	}
	resolve := func(name string) string {
		name = strings.SplitN(name, ":", 2)[0]
		if _, ok := installed[name]; ok {
			return name
		}
		return provides[name]
	}
	want := map[string]string{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		real := resolve(name)
		if real == "" {
			return nil, fmt.Errorf("the Debian package %s is not installed on this machine (apt-get install %s)", name, strings.Join(roots, " "))
		}
		if _, done := want[real]; done || buildOnly(real) {
			continue
		}
		want[real] = installed[real].version
		for _, group := range strings.Split(installed[real].deps, ",") {
			alts := splitAlternatives(group)
			if len(alts) == 0 {
				continue
			}
			pick := ""
			for _, a := range alts {
				if r := resolve(a); r != "" {
					pick = r
					break
				}
			}
			if pick == "" {
				return nil, fmt.Errorf("the Debian package %s depends on %s, which is not installed", real, strings.TrimSpace(group))
			}
			queue = append(queue, pick)
		}
	}
	return want, nil
}

var versionClause = regexp.MustCompile(`\s*\([^)]*\)|\s*\[[^]]*\]|\s*<[^>]*>`)

// splitAlternatives reads "a (>= 1) | b" into [a b].
func splitAlternatives(group string) []string {
	var out []string
	for _, a := range strings.Split(group, "|") {
		a = strings.TrimSpace(versionClause.ReplaceAllString(a, ""))
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

func splitDeps(list string) []string {
	var out []string
	for _, d := range strings.Split(list, ",") {
		out = append(out, splitAlternatives(d)...)
	}
	return out
}

// DebianLayer downloads the packages (apt-get download, into cacheDir,
// kept for the next build) and unpacks them (dpkg-deb, merged /usr as
// debian.go lays it out) into a layer.
// Maintainer scripts do not run; the alternatives they would set up for
// the shared libraries (BLAS, LAPACK) are linked as this machine has them.
func DebianLayer(ctx context.Context, packages map[string]string, cacheDir string) ([]File, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range packages {
			if !yield(n) {
				return
			}
		}
	})
	// The archive's current version of each package (a machine updated
	// since may have newer ones installed than the archive still holds).
	var missing []string
	debs := map[string]string{}
	for _, n := range names {
		if matches, _ := filepath.Glob(filepath.Join(cacheDir, n+"_*.deb")); len(matches) > 0 {
			debs[n] = matches[len(matches)-1]
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"download", "-q"}, missing...)...)
		cmd.Dir = cacheDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("downloading Debian packages (apt-get update first?): %w\n%s", err, out)
		}
		for _, n := range names {
			if debs[n] != "" {
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(cacheDir, n+"_*.deb"))
			if len(matches) == 0 {
				return nil, fmt.Errorf("apt-get download left no package file for %s", n)
			}
			debs[n] = matches[len(matches)-1]
		}
	}
	root := filepath.Join(cacheDir, "python-root")
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	var list []string
	for _, n := range names {
		list = append(list, debs[n])
	}
	if err := unpackPackages(ctx, list, root); err != nil {
		return nil, err
	}
	// The base image's /bin holds BusyBox's applets (sh, mktemp...): the
	// merged-/usr link would hide them, and every program of these
	// packages is in /usr/bin anyway.
	if err := os.Remove(filepath.Join(root, "bin")); err != nil {
		return nil, err
	}
	files, err := treeFiles(root)
	if err != nil {
		return nil, err
	}
	return append(files, alternatives(root)...), nil
}

// alternatives links the shared libraries Debian's alternatives system
// provides (libblas.so.3, liblapack.so.3...) to the implementation this
// machine uses, when the image has it.
func alternatives(root string) []File {
	var out []File
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			link, err := os.Readlink(p)
			if err != nil || !strings.HasPrefix(link, "/etc/alternatives/") {
				continue
			}
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				continue
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				continue
			}
			if _, err := os.Lstat(filepath.Join(root, target)); err != nil {
				// This machine uses an implementation the image lacks:
				// take the one it has (reference BLAS for OpenBLAS...).
				target = findBelow(root, dir, e.Name())
			}
			if target != "" {
				out = append(out, File{Path: p, Symlink: target})
			}
		}
	}
	return out
}

// findBelow finds a file named name under dir in the unpacked root and
// returns its path in the image.
func findBelow(root, dir, name string) string {
	found := ""
	_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && found == "" && !d.IsDir() && d.Name() == name {
			found = "/" + filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		}
		return nil
	})
	return found
}
