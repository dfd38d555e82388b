package launcher

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestOpenStoreS3WithEndpoint opens a MinIO-style root: the endpoint and
// path-style options travel in the URL; opening does not contact it.
func TestOpenStoreS3WithEndpoint(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	s, err := OpenStore(context.Background(), "s3://mlpipeline/v2?endpoint=http://127.0.0.1:9000&region=us-east-1&use_path_style=true")
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
	if _, err := OpenStore(context.Background(), "ftp://x/y"); err == nil {
		t.Error("ftp root accepted")
	}
}

// TestStoreS3RoundTrip uploads and downloads artifacts (a file and a
// directory) and small values through an S3-compatible server in the
// test process, as against MinIO: endpoint and path style from the root's
// URL, credentials from the environment.
func TestStoreS3RoundTrip(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("mlpipeline"); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gofakes3.New(backend).Server())
	defer server.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	ctx := context.Background()
	s, err := OpenStore(ctx, "s3://mlpipeline/v2?endpoint="+server.URL+"&region=us-east-1&use_path_style=true")
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
	if _, err := backend.HeadObject("mlpipeline", "v2/p/r/train/model"); err != nil {
		t.Errorf("the model is not at v2/p/r/train/model in the bucket: %v", err)
	}
	if err := s.WriteAll(ctx, "results/x.json", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadAll(ctx, "results/x.json"); err != nil || string(got) != `{"n":1}` {
		t.Errorf("ReadAll: %q, %v", got, err)
	}
}
