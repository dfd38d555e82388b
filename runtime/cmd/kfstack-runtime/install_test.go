package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestInstallCopiesTheBinary: the init container's `install DIR` leaves an
// executable copy of this binary in DIR.
func TestInstallCopiesTheBinary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	var stderr bytes.Buffer
	if code := dispatch([]string{"install", dir}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "kfstack-runtime"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the copy differs from the binary (%d vs %d bytes)", len(got), len(want))
	}
	if fi, err := os.Stat(filepath.Join(dir, "kfstack-runtime")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("the copy is not executable: %v %v", fi.Mode(), err)
	}
	if code := dispatch([]string{"install"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("install without a directory exits %d, want 2", code)
	}
}
