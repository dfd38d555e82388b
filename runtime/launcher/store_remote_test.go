package launcher

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestOpenStoreS3WithEndpoint opens a MinIO-style root: the endpoint and
// path-style options travel in the URL; opening does not contact it.
func TestOpenStoreS3WithEndpoint(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	s, err := OpenStore(context.Background(), "s3://mlpipeline/v2?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.URI("p/r/t/model"); got != "s3://mlpipeline/v2/p/r/t/model" {
		t.Errorf("URI %s", got)
	}
	if key, err := s.key("s3://mlpipeline/v2/p/r/t/model"); err != nil || key != "v2/p/r/t/model" {
		t.Errorf("key %q, %v", key, err)
	}
	if _, err := OpenStore(context.Background(), "ftp://x/y", StoreOptions{}); err == nil {
		t.Error("ftp root accepted")
	}
}

// TestStoreS3RoundTrip uploads and downloads artifacts through an
// S3-compatible server in the test process, as against MinIO: endpoint and
// path style from the root's URL, credentials from the environment.
func TestStoreS3RoundTrip(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("mlpipeline"); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gofakes3.New(backend).Server())
	defer server.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	roundTrip(t, "s3://mlpipeline/v2?endpoint="+server.URL+"&region=us-east-1&use_path_style=true", func(key string) error {
		_, err := backend.HeadObject("mlpipeline", key)
		return err
	})
}

// TestStoreGCSRoundTrip does the same through a Cloud Storage emulator
// (fake-gcs-server) that gocloud reaches through STORAGE_EMULATOR_HOST.
func TestStoreGCSRoundTrip(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// PublicHost: the client reads objects by the XML API's path
	// (/<bucket>/<object>) on the emulator's host.
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: fmt.Sprintf("127.0.0.1:%d", port), Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "ml-artifacts"})
	t.Setenv("STORAGE_EMULATOR_HOST", fmt.Sprintf("127.0.0.1:%d", port))
	roundTrip(t, "gs://ml-artifacts/v2", func(key string) error {
		_, err := server.GetObject("ml-artifacts", key)
		return err
	})
}

// roundTrip uploads a file and a directory to the store at root, downloads
// them back and compares, checks with stored that an object is under the
// root's prefix, and writes and reads a small value.
func roundTrip(t *testing.T, root string, stored func(key string) error) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenStore(ctx, root, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	dir := t.TempDir()
	model := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(model, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	dataset := filepath.Join(dir, "dataset")
	for name, content := range map[string]string{"train.csv": "a,b\n", "eval/eval.csv": "c,d\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dataset, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dataset, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modelURI, datasetURI := s.URI("p/r/train/model"), s.URI("p/r/prep/dataset")
	if err := s.Upload(ctx, model, modelURI); err != nil {
		t.Fatalf("uploading a file: %v", err)
	}
	if err := s.Upload(ctx, dataset, datasetURI); err != nil {
		t.Fatalf("uploading a directory: %v", err)
	}
	out := t.TempDir()
	if err := s.Download(ctx, modelURI, filepath.Join(out, "model")); err != nil {
		t.Fatalf("downloading a file: %v", err)
	}
	if err := s.Download(ctx, datasetURI, filepath.Join(out, "dataset")); err != nil {
		t.Fatalf("downloading a directory: %v", err)
	}
	for path, want := range map[string]string{"model": "weights", "dataset/train.csv": "a,b\n", "dataset/eval/eval.csv": "c,d\n"} {
		if got, err := os.ReadFile(filepath.Join(out, path)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", path, got, err, want)
		}
	}
	// The objects are where the URI says, under the root's prefix.
	if err := stored("v2/p/r/train/model"); err != nil {
		t.Errorf("the model is not at v2/p/r/train/model in the bucket: %v", err)
	}
	if err := s.WriteAll(ctx, "results/x.json", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, "results/x.json"); err != nil || string(got) != `{"n":1}` {
		t.Errorf("ReadAll: %q, %v", got, err)
	}
}
