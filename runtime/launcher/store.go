package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	// The drivers the pipeline root may name: file:// for local runs and
	// tests, gs:// for GKE, s3:// (with ?endpoint= for MinIO).
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
)

// Store reads and writes artifacts under a pipeline root URL. Every
// write, and every read of the controller, stays under the root: a URI
// elsewhere in the bucket, another bucket or a key that climbs out of the
// root (..) is refused. With StoreOptions.ForeignReads, Download also
// reads artifacts elsewhere (an importer may name any gs://, s3:// or
// file:// URI), opening their buckets on demand, at most
// MaxForeignBuckets at once.
type Store struct {
	root   *url.URL
	bucket *blob.Bucket
	// prefix is the key prefix of the root inside the bucket.
	prefix string
	opts   StoreOptions
	// others are the buckets of foreign URIs (ForeignReads).
	others *openPool[*blob.Bucket]
}

// StoreOptions say what a Store may reach beyond its root.
type StoreOptions struct {
	// ForeignReads lets Download read artifacts outside the root (an
	// importer's URI, an artifact a run recorded elsewhere) with this
	// process's credentials. Only a process that acts as the run may set
	// it: the launcher in a task pod (the run's service account), the
	// CLI (its user), the local executor (trusted by its operator). The
	// controller never sets it, or any task could make it read with the
	// controller's identity whatever URI the task names.
	ForeignReads bool
	// MaxForeignBuckets bounds the foreign buckets kept open; beyond it
	// the least recently used is closed (default 8).
	MaxForeignBuckets int
}

// RootError is a pipeline root that can never be opened: not a URL, a
// scheme the runtime does not support, no bucket. Other errors of
// OpenStore may pass (credentials or a mount not there yet), and a caller
// should retry them.
type RootError struct {
	// Root is the pipeline root as given.
	Root string
	// Reason says what is wrong.
	Reason string
}

func (e *RootError) Error() string { return fmt.Sprintf("pipeline root %q: %s", e.Root, e.Reason) }

// IsRootError reports whether err is a RootError: retrying cannot help.
func IsRootError(err error) bool {
	var re *RootError
	return errors.As(err, &re)
}

// ParseRoot checks a pipeline root's form (validation.ParsePipelineRoot)
// and returns it parsed; a malformed root is a *RootError.
func ParseRoot(root string) (*url.URL, error) {
	u, err := validation.ParsePipelineRoot(root)
	if err != nil {
		return nil, &RootError{Root: root, Reason: err.Error()}
	}
	return u, nil
}

// cleanKey reports whether key is a relative slash-separated path whose
// elements are neither empty, "." nor "..": one that names the same
// object for every store and cannot climb out of a prefix.
func cleanKey(key string) bool {
	if key == "" {
		return false
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// OpenStore opens the pipeline root, e.g. file:///tmp/root,
// gs://bucket/pipelines or s3://bucket/x?endpoint=http://minio:9000&use_path_style=true.
// A root that is malformed is a *RootError.
func OpenStore(ctx context.Context, root string, opts StoreOptions) (*Store, error) {
	u, err := ParseRoot(root)
	if err != nil {
		return nil, err
	}
	if opts.MaxForeignBuckets <= 0 {
		opts.MaxForeignBuckets = 8
	}
	s := &Store{root: u, opts: opts, others: newOpenPool[*blob.Bucket](opts.MaxForeignBuckets)}
	var bucketURL string
	if u.Scheme == "file" {
		u.Path = filepath.Clean(u.Path)
		if err := os.MkdirAll(u.Path, 0o755); err != nil {
			return nil, fmt.Errorf("creating pipeline root %s: %w", u.Path, err)
		}
		bucketURL = fileBucket(u.Path)
	} else {
		b := *u
		b.Path = ""
		bucketURL = b.String()
		s.prefix = strings.Trim(u.Path, "/")
	}
	s.bucket, err = blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, fmt.Errorf("opening pipeline root %q: %w", root, err)
	}
	return s, nil
}

// fileBucket is the bucket URL of a directory. Temporary files of writes
// are made next to their destination, not in $TMPDIR: renaming them into
// place must not cross filesystems (in a task pod, /tmp is the
// container's and the root a mounted volume).
func fileBucket(dir string) string {
	return (&url.URL{Scheme: "file", Path: dir, RawQuery: "no_tmp_dir=true"}).String()
}

// Close releases the buckets.
func (s *Store) Close() error {
	_ = s.others.close()
	return s.bucket.Close()
}

// locate returns the bucket and key of an artifact URI, and the release
// of the bucket once read: the root's bucket for URIs under the root,
// with ForeignReads another bucket otherwise.
func (s *Store) locate(ctx context.Context, uri string) (*blob.Bucket, string, func(), error) {
	key, err := s.key(uri)
	if err == nil {
		return s.bucket, key, func() {}, nil
	}
	if !s.opts.ForeignReads {
		return nil, "", nil, err
	}
	u, perr := url.Parse(uri)
	if perr != nil {
		return nil, "", nil, fmt.Errorf("parsing artifact URI %q: %w", uri, perr)
	}
	var bucketURL string
	key = strings.TrimLeft(u.Path, "/")
	switch u.Scheme {
	case "file":
		bucketURL = fileBucket("/")
		key = strings.TrimPrefix(filepath.Clean("/"+key), "/")
	case "gs", "s3":
		if u.Host == "" {
			return nil, "", nil, fmt.Errorf("artifact URI %q names no bucket", uri)
		}
		b := url.URL{Scheme: u.Scheme, Host: u.Host}
		if u.Scheme == s.root.Scheme && u.Host == s.root.Host {
			b.RawQuery = s.root.RawQuery // same endpoint (MinIO) as the root
		}
		bucketURL = b.String()
	default:
		return nil, "", nil, fmt.Errorf("artifact URI %q: unsupported scheme", uri)
	}
	if !cleanKey(key) {
		return nil, "", nil, fmt.Errorf("artifact URI %q: its path must not contain empty, \".\" or \"..\" elements", uri)
	}
	b, release, err := s.others.acquire(ctx, bucketURL, func(ctx context.Context) (*blob.Bucket, error) {
		return blob.OpenBucket(ctx, bucketURL)
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("opening bucket of %q: %w", uri, err)
	}
	return b, key, release, nil
}

// URI returns the artifact URI of a key relative to the root.
func (s *Store) URI(rel string) string {
	u := *s.root
	u.RawQuery = ""
	return strings.TrimRight(u.String(), "/") + "/" + strings.TrimLeft(rel, "/")
}

// key maps an artifact URI under the root to a bucket key. It refuses a
// URI of another scheme or bucket, one outside the root's prefix, and one
// whose path climbs out of it or names the root itself.
func (s *Store) key(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("parsing artifact URI %q: %w", uri, err)
	}
	outside := fmt.Errorf("artifact URI %q is outside the pipeline root %s", uri, s.URI(""))
	if u.Scheme != s.root.Scheme || u.Host != s.root.Host {
		return "", outside
	}
	if s.root.Scheme == "file" {
		rel, err := filepath.Rel(s.root.Path, u.Path)
		if err != nil || rel == "." || !filepath.IsLocal(rel) {
			return "", outside
		}
		return filepath.ToSlash(rel), nil
	}
	p := strings.TrimLeft(u.Path, "/")
	if !cleanKey(p) {
		return "", fmt.Errorf("artifact URI %q: its path must not contain empty, \".\" or \"..\" elements", uri)
	}
	if s.prefix != "" && !strings.HasPrefix(p, s.prefix+"/") {
		return "", outside
	}
	return p, nil
}

// Upload copies a local file or directory to uri.
func (s *Store) Upload(ctx context.Context, local, uri string) error {
	key, err := s.key(uri)
	if err != nil {
		return err
	}
	info, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", local, err)
	}
	if !info.IsDir() {
		return s.put(ctx, local, key)
	}
	return filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		return s.put(ctx, p, key+"/"+filepath.ToSlash(rel))
	})
}

func (s *Store) put(ctx context.Context, local, key string) error {
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", local, err)
	}
	defer f.Close()
	w, err := s.bucket.NewWriter(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("writing %s: %w", key, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", key, err)
	}
	return nil
}

// Download copies the artifact at uri (a single object, or every object
// under it as a directory) to local. Objects whose key would land outside
// local (a key with "..", an absolute one) are refused, not written.
func (s *Store) Download(ctx context.Context, uri, local string) error {
	bucket, key, release, err := s.locate(ctx, uri)
	if err != nil {
		return err
	}
	defer release()
	if err := get(ctx, bucket, key, local); err == nil {
		return nil
	} else if gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("downloading %s: %w", uri, err)
	}
	it := bucket.List(&blob.ListOptions{Prefix: key + "/"})
	found := false
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", uri, err)
		}
		rel := strings.TrimPrefix(obj.Key, key+"/")
		if strings.HasSuffix(rel, "/") && obj.Size == 0 {
			continue // a "directory" marker, as consoles make
		}
		if !filepath.IsLocal(filepath.FromSlash(rel)) || strings.Contains(rel, "\\") {
			return fmt.Errorf("downloading %s: object %q would be written outside %s; refusing it", uri, obj.Key, local)
		}
		found = true
		if err := get(ctx, bucket, obj.Key, filepath.Join(local, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("downloading %s: no such artifact", uri)
	}
	return nil
}

func get(ctx context.Context, bucket *blob.Bucket, key, local string) error {
	r, err := bucket.NewReader(ctx, key, nil)
	if err != nil {
		return err // NotFound is tested by the caller
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(local), err)
	}
	f, err := os.Create(local)
	if err != nil {
		return fmt.Errorf("creating %s: %w", local, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", local, err)
	}
	return nil
}

// ReadAll reads a small object under the root (cache entries, large
// task results); rel must be a clean relative key.
func (s *Store) ReadAll(ctx context.Context, rel string) ([]byte, error) {
	key, err := s.join(rel)
	if err != nil {
		return nil, err
	}
	return s.bucket.ReadAll(ctx, key)
}

// WriteAll writes a small object under the root.
func (s *Store) WriteAll(ctx context.Context, rel string, data []byte) error {
	key, err := s.join(rel)
	if err != nil {
		return err
	}
	return s.bucket.WriteAll(ctx, key, data, nil)
}

func (s *Store) join(rel string) (string, error) {
	if !cleanKey(rel) {
		return "", fmt.Errorf("key %q is not a clean relative path under the pipeline root", rel)
	}
	if s.prefix == "" {
		return rel, nil
	}
	return s.prefix + "/" + rel, nil
}

// IsNotFound reports whether err means a missing object.
func IsNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// ReadError is a store that failed to read an object the caller needs.
type ReadError struct {
	// What names the object.
	What string
	// Err is the store's error.
	Err error
}

func (e *ReadError) Error() string { return fmt.Sprintf("reading %s: %v", e.What, e.Err) }

// Unwrap exposes the store's error.
func (e *ReadError) Unwrap() error { return e.Err }

// Unavailable reports whether err is a read that the store failed in a
// way that may pass (it did not answer, timed out, failed internally or
// throttled): worth retrying later. A missing object, a refused
// permission, a malformed root, a result in the wrong place or content
// that does not decode are not.
func Unavailable(err error) bool {
	var re *ReadError
	if !errors.As(err, &re) {
		return false
	}
	switch gcerrors.Code(re.Err) {
	case gcerrors.Unknown, gcerrors.Internal, gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted:
		return true
	}
	return false
}
