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

	"github.com/kfstack/terraform-provider-kubeflow/runtime/internal/opencache"
)

// Store reads and writes artifacts under a pipeline root URL. It also
// reads artifacts elsewhere (an importer may name any gs://, s3:// or
// file:// URI), opening their buckets on demand and keeping at most
// maxOtherBuckets of them open.
type Store struct {
	root   *url.URL
	bucket *blob.Bucket
	// prefix is the key prefix of the root inside the bucket.
	prefix string

	others *opencache.Cache[*blob.Bucket]
}

// maxOtherBuckets bounds the buckets outside the root a Store keeps open:
// their URIs come from pipelines, not from the operator.
const maxOtherBuckets = 8

// ErrInvalidRoot marks a pipeline root that can never be opened (not a
// URL, no or an unknown scheme). Other errors of OpenStore (a directory
// that cannot be made now, a bucket whose client cannot be made now) may
// pass.
var ErrInvalidRoot = errors.New("invalid pipeline root")

// OpenStore opens the pipeline root, e.g. file:///tmp/root,
// gs://bucket/pipelines or s3://bucket/x?endpoint=http://minio:9000&use_path_style=true.
func OpenStore(ctx context.Context, root string) (*Store, error) {
	u, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing %q: %w", ErrInvalidRoot, root, err)
	}
	switch u.Scheme {
	case "file", "gs", "s3":
	case "":
		return nil, fmt.Errorf("%w: %q needs a scheme (file://, gs://, s3://)", ErrInvalidRoot, root)
	default:
		return nil, fmt.Errorf("%w: %q: unsupported scheme %q", ErrInvalidRoot, root, u.Scheme)
	}
	s := &Store{root: u, others: &opencache.Cache[*blob.Bucket]{
		Max:   maxOtherBuckets,
		Open:  blob.OpenBucket,
		Close: func(b *blob.Bucket) { b.Close() },
	}}
	var bucketURL string
	if u.Scheme == "file" {
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
	s.others.CloseAll()
	return s.bucket.Close()
}

// OtherBuckets is the number of buckets outside the root held open.
func (s *Store) OtherBuckets() int { return s.others.Len() }

// locate returns the bucket and key of an artifact URI: the root's bucket
// for URIs under the root, another bucket otherwise. release gives the
// bucket back once the caller is done with it.
func (s *Store) locate(ctx context.Context, uri string) (bucket *blob.Bucket, key string, release func(), err error) {
	if key, err := s.key(uri); err == nil {
		return s.bucket, key, func() {}, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, "", nil, fmt.Errorf("parsing artifact URI %q: %w", uri, err)
	}
	var bucketURL string
	switch u.Scheme {
	case "file":
		bucketURL, key = fileBucket("/"), strings.TrimLeft(u.Path, "/")
	case "gs", "s3":
		b := url.URL{Scheme: u.Scheme, Host: u.Host}
		if u.Scheme == s.root.Scheme && u.Host == s.root.Host {
			b.RawQuery = s.root.RawQuery // same endpoint (MinIO) as the root
		}
		bucketURL, key = b.String(), strings.TrimLeft(u.Path, "/")
	default:
		return nil, "", nil, fmt.Errorf("artifact URI %q: unsupported scheme", uri)
	}
	b, release, err := s.others.Get(ctx, bucketURL)
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

// key maps an artifact URI under the root to a bucket key.
func (s *Store) key(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("parsing artifact URI %q: %w", uri, err)
	}
	if u.Scheme != s.root.Scheme || u.Host != s.root.Host {
		return "", fmt.Errorf("artifact URI %q is outside the pipeline root %s", uri, s.URI(""))
	}
	p := strings.TrimLeft(u.Path, "/")
	if s.root.Scheme == "file" {
		rel, err := filepath.Rel(s.root.Path, u.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("artifact URI %q is outside the pipeline root %s", uri, s.root.Path)
		}
		return filepath.ToSlash(rel), nil
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
// under it as a directory) to local.
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
		found = true
		if err := get(ctx, bucket, obj.Key, filepath.Join(local, filepath.FromSlash(strings.TrimPrefix(obj.Key, key+"/")))); err != nil {
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

// ReadAll reads a small object (cache entries, large task results).
func (s *Store) ReadAll(ctx context.Context, rel string) ([]byte, error) {
	return s.bucket.ReadAll(ctx, s.join(rel))
}

// WriteAll writes a small object.
func (s *Store) WriteAll(ctx context.Context, rel string, data []byte) error {
	return s.bucket.WriteAll(ctx, s.join(rel), data, nil)
}

func (s *Store) join(rel string) string {
	if s.prefix == "" {
		return rel
	}
	return s.prefix + "/" + rel
}

// IsNotFound reports whether err means a missing object.
func IsNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }
