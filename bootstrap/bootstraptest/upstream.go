package bootstraptest

import (
	"os"
	"path/filepath"
	"testing"
)

// Upstream returns the path of ../shared/upstream/<parts...> from the
// repository root, where real upstream charts and manifests are kept, and
// skips the test when it is absent (a checkout outside this workspace).
func Upstream(t testing.TB, parts ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "k8s", "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root")
		}
		dir = parent
	}
	path := filepath.Join(append([]string{dir, "..", "shared", "upstream"}, parts...)...)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s is absent (real upstream charts live in ../shared/upstream, outside this repository)", path)
	}
	return path
}
