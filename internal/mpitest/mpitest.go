// Package mpitest gives tests the MPI inputs of ../shared/testdata/mpi,
// written by kubeflow/mpi-operator and never copied into this repository:
// the v2beta1 CRD and the pi example's manifests, sources and image
// recipes.
package mpitest

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/internal/testcluster"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// Dir is ../shared/testdata/mpi next to the repository root; the test
// skips, saying so, where it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "testdata", "mpi")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no MPI test data at %s (checkout outside the kfstack workspace): %v", dir, err)
	}
	return dir
}

// Examples are upstream's v2beta1 example manifests in the shared test
// data, by file name below Dir: the pi example for Open MPI and MPICH.
var Examples = []string{"pi/pi.yaml", "pi/pi-mpich.yaml"}

// Read returns a file below Dir.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Job decodes the example manifest name strictly: a field our types lack
// fails the test.
func Job(t testing.TB, name string) *v2beta1.MPIJob {
	t.Helper()
	job := &v2beta1.MPIJob{}
	if err := yaml.UnmarshalStrict(Read(t, name), job); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return job
}
