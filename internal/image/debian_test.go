package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildDeb packs tree (paths to contents; a "->" prefix makes a link)
// into a .deb with dpkg-deb.
func buildDeb(t *testing.T, name string, tree map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	for p, content := range tree {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	control := "Package: " + name + "\nVersion: 1\nArchitecture: all\nMaintainer: kfstack <kfstack@example.org>\nDescription: test\n"
	if err := os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), name+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-b", dir, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

// TestUnpackPackagesMergedUsr: packages of a release without merged /usr
// (files in /sbin) and of one with it (base-files shipping /sbin as a
// link, as Debian 13's does) unpack into one tree with /sbin a link into
// /usr.
func TestUnpackPackagesMergedUsr(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb (a Debian or Ubuntu machine)")
	}
	debs := []string{
		buildDeb(t, "old", map[string]string{"sbin/old-tool": "old", "lib/x/lib.so": "lib"}),
		buildDeb(t, "base", map[string]string{"sbin": "->usr/sbin", "lib": "->usr/lib", "bin": "->usr/bin", "usr/sbin/new-tool": "new", "etc/issue": "issue"}),
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := unpackPackages(context.Background(), debs, root); err != nil {
		t.Fatal(err)
	}
	for link, target := range mergedUsr {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != target {
			t.Errorf("/%s: link to %q (%v), want %q", link, got, err, target)
		}
	}
	for _, f := range []string{"usr/sbin/old-tool", "usr/sbin/new-tool", "usr/lib/x/lib.so", "etc/issue"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestAptSourceOptions: a private source keeps apt's lists, cache, status
// and sources in its own directory; this machine's source adds nothing.
func TestAptSourceOptions(t *testing.T) {
	if opts := (aptSource{}).options(); opts != nil {
		t.Errorf("this machine's source: options %q", opts)
	}
	dir := t.TempDir()
	opts := aptSource{Suite: "trixie", Dir: dir}.options()
	for _, key := range []string{"Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::State::status", "Dir::Cache"} {
		i := slices.IndexFunc(opts, func(o string) bool { return strings.HasPrefix(o, key+"=") })
		if i < 1 || opts[i-1] != "-o" {
			t.Errorf("no -o %s in %q", key, opts)
			continue
		}
		if v := strings.TrimPrefix(opts[i], key+"="); !strings.HasPrefix(v, dir) {
			t.Errorf("%s=%s, outside %s", key, v, dir)
		}
	}
}
