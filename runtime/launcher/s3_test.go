package launcher

import (
	"context"
	"testing"
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
