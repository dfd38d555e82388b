package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// emulator is an object store in the test process: the root URL of a
// bucket and prefix, and a way to plant objects as a task with write
// access to the bucket could.
type emulator struct {
	root  func(bucket, prefix string) string
	plant func(bucket, key, data string)
}

func s3Emulator(t *testing.T, buckets ...string) emulator {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	server := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(server.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "minio")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "minio123")
	return emulator{
		root: func(bucket, prefix string) string {
			return "s3://" + bucket + "/" + prefix + "?endpoint=" + server.URL + "&region=us-east-1&use_path_style=true"
		},
		plant: func(bucket, key, data string) {
			if _, err := backend.PutObject(bucket, key, nil, strings.NewReader(data), int64(len(data)), nil); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func gcsEmulator(t *testing.T, buckets ...string) emulator {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: fmt.Sprintf("127.0.0.1:%d", port), Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	for _, b := range buckets {
		server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	t.Setenv("STORAGE_EMULATOR_HOST", fmt.Sprintf("127.0.0.1:%d", port))
	return emulator{
		root: func(bucket, prefix string) string { return "gs://" + bucket + "/" + prefix },
		plant: func(bucket, key, data string) {
			server.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: key}, Content: []byte(data)})
		},
	}
}

// TestDownloadRefusesKeysOutsideTarget (zip-slip): an artifact directory
// in an object store can hold keys that, joined to the local target,
// would land elsewhere ("../", absolute). Download refuses them before
// fetching anything (some stores, and these emulators, normalise "../" in
// request paths, others serve such keys as they are) and writes nothing
// outside its target.
func TestDownloadRefusesKeysOutsideTarget(t *testing.T) {
	for name, start := range map[string]func(*testing.T, ...string) emulator{"s3": s3Emulator, "gcs": gcsEmulator} {
		t.Run(name, func(t *testing.T) {
			emu := start(t, "ml")
			ctx := context.Background()
			s, err := OpenStore(ctx, emu.root("ml", "v2"), StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, tc := range []struct{ name, key string }{
				{"dot-dot", "v2/p/r/t/data/../../../../../escaped.txt"},
				{"absolute", "v2/p/r/t/abs//tmp/escaped-abs.txt"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dir := "data"
					if tc.name == "absolute" {
						dir = "abs"
					}
					emu.plant("ml", "v2/p/r/t/"+dir+"/good.txt", "fine")
					emu.plant("ml", tc.key, "owned")
					work := t.TempDir()
					target := filepath.Join(work, "a", "b", "c", "d", "in")
					err := s.Download(ctx, s.URI("p/r/t/"+dir), target)
					if err == nil || !strings.Contains(err.Error(), "would be written outside") {
						t.Fatalf("Download: %v; want a refusal", err)
					}
					// Nothing landed where the key points, inside or
					// outside the work directory.
					_ = filepath.Walk(work, func(p string, info os.FileInfo, err error) error {
						if err == nil && !info.IsDir() && !strings.HasPrefix(p, target+string(filepath.Separator)) {
							t.Errorf("%s was written outside the target", p)
						}
						return nil
					})
					if _, err := os.Stat("/tmp/escaped-abs.txt"); err == nil {
						t.Error("/tmp/escaped-abs.txt was written")
					}
				})
			}
		})
	}
}

// TestStoreStaysUnderItsRoot: writes, and reads of a store without
// ForeignReads (the controller's), reach only keys under the root's
// prefix: not the rest of the bucket, another bucket, or a key that
// climbs out with "..".
func TestStoreStaysUnderItsRoot(t *testing.T) {
	emu := s3Emulator(t, "ml", "other")
	ctx := context.Background()
	s, err := OpenStore(ctx, emu.root("ml", "team-a/v2"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	emu.plant("ml", "team-b/secret/model", "team b's")
	emu.plant("other", "team-a/v2/x", "other bucket")
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{
		"s3://ml/team-b/secret/model",                 // the same bucket, outside the prefix
		"s3://ml/team-a/v2x/model",                    // a prefix that only starts like the root's
		"s3://ml/team-a/v2/../../team-b/secret/model", // climbing out
		"s3://ml/team-a/v2/./x",
		"s3://ml/team-a/v2//x",
		"s3://other/team-a/v2/x", // another bucket
		"gs://ml/team-a/v2/x",    // another scheme
		"s3://ml/team-a/v2",      // the root itself
	} {
		if err := s.Upload(ctx, file, uri); err == nil {
			t.Errorf("Upload to %s accepted", uri)
		}
		if err := s.Download(ctx, uri, filepath.Join(t.TempDir(), "out")); err == nil {
			t.Errorf("Download of %s accepted", uri)
		} else if !strings.Contains(err.Error(), "outside the pipeline root") && !strings.Contains(err.Error(), "must not contain") {
			t.Errorf("Download of %s: %v", uri, err)
		}
	}
	for _, rel := range []string{"../team-b/secret/model", "/abs", "a//b", "./a", ""} {
		if _, err := s.ReadAll(ctx, rel); err == nil || IsNotFound(err) {
			t.Errorf("ReadAll(%q): %v; want a refusal", rel, err)
		}
		if err := s.WriteAll(ctx, rel, []byte("x")); err == nil {
			t.Errorf("WriteAll(%q) accepted", rel)
		}
	}

	dir := t.TempDir()
	fs, err := OpenStore(ctx, "file://"+filepath.Join(dir, "root"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"file://" + filepath.Join(dir, "secret"), "file://" + dir + "/root/../secret", "file://" + dir + "/root", "file:///etc/hostname"} {
		if err := fs.Download(ctx, uri, filepath.Join(t.TempDir(), "out")); err == nil {
			t.Errorf("Download of %s accepted", uri)
		}
		if err := fs.Upload(ctx, file, uri); err == nil {
			t.Errorf("Upload to %s accepted", uri)
		}
	}
	for _, root := range []string{"s3://ml/a/../b", "gs:///x", "file://host/x", "file:relative", "ftp://x/y", "/no/scheme"} {
		if _, err := OpenStore(ctx, root, StoreOptions{}); !IsRootError(err) {
			t.Errorf("OpenStore(%s): %v; want a RootError", root, err)
		}
	}
}

// TestForeignReads: reading an artifact outside the root is for stores
// that act as the run (ForeignReads: the launcher in a pod, the CLI, the
// local executor), and the foreign buckets they open are bounded.
func TestForeignReads(t *testing.T) {
	emu := gcsEmulator(t, "root", "f1", "f2", "f3")
	ctx := context.Background()
	for _, b := range []string{"f1", "f2", "f3"} {
		emu.plant(b, "data/x.txt", "from "+b)
	}
	confined, err := OpenStore(ctx, emu.root("root", "v2"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer confined.Close()
	if err := confined.Download(ctx, "gs://f1/data/x.txt", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "outside the pipeline root") {
		t.Errorf("a confined store read a foreign URI: %v", err)
	}
	if confined.others.len() != 0 {
		t.Error("a confined store opened a foreign bucket")
	}

	open, err := OpenStore(ctx, emu.root("root", "v2"), StoreOptions{ForeignReads: true, MaxForeignBuckets: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	for _, b := range []string{"f1", "f2", "f3", "f1"} {
		out := filepath.Join(t.TempDir(), "x")
		if err := open.Download(ctx, "gs://"+b+"/data/x.txt", out); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(out); string(got) != "from "+b {
			t.Errorf("gs://%s: %q", b, got)
		}
	}
	if n := open.others.len(); n != 2 {
		t.Errorf("%d foreign buckets open, want at most 2", n)
	}
	if err := open.Download(ctx, "gs://f1/data/../../x", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("a foreign URI with .. was read")
	}
}

// TestDecodeResultReadsOnlyTheTasksResult: an offloaded result is read
// only from where the task's result belongs; a termination message that
// points elsewhere (another run's result, the result of an earlier run of
// the same name, a file of the controller's machine, another bucket) is
// refused, not read.
func TestDecodeResultReadsOnlyTheTasksResult(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenStore(ctx, "file://"+filepath.Join(dir, "root"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mine, theirs := ResultPath("p", "r1", "uid-2", "loop[1]/t"), ResultPath("p", "r2", "", "t")
	earlier := ResultPath("p", "r1", "uid-1", "loop[1]/t")
	for rel, params := range map[string]string{mine: `{"params":{"who":"me"}}`, theirs: `{"params":{"who":"them"}}`, earlier: `{"params":{"who":"earlier"}}`} {
		if err := s.WriteAll(ctx, rel, []byte(params)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := DecodeResult(ctx, s, []byte(`{"resultUri":"`+s.URI(mine)+`"}`), mine)
	if err != nil || m.Params["who"] != "me" {
		t.Fatalf("own result: %+v, %v", m, err)
	}
	for _, uri := range []string{s.URI(theirs), s.URI(earlier), "file:///etc/passwd", "gs://elsewhere/x/.result.json", s.URI(mine) + "/../../../r2/t/.result.json"} {
		_, err := DecodeResult(ctx, s, []byte(`{"resultUri":"`+uri+`"}`), mine)
		var fe *ForeignResultError
		if !errors.As(err, &fe) {
			t.Errorf("resultUri %s: %v; want a ForeignResultError", uri, err)
		}
	}
	// A task spec that names paths out of the pod's work directory is
	// refused by the launcher too.
	for _, spec := range []TaskSpec{
		{RunID: "r", PipelineName: "p", Path: "../x", Name: "x"},
		{RunID: "r", PipelineName: "../p", Path: "x", Name: "x"},
		{RunID: "../r", PipelineName: "p", Path: "x", Name: "x"},
		{RunID: "r", RunUID: "..", PipelineName: "p", Path: "x", Name: "x"},
	} {
		spec.Container = &pipeline.ContainerSpec{Image: "alpine", Command: []string{"true"}}
		if _, err := spec.TaskRun(); err == nil {
			t.Errorf("task spec %+v accepted", spec)
		}
	}
}
