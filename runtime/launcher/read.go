package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"gocloud.dev/blob"
)

// Readers of a store that never leave its root: the UI reads artifacts of
// runs through them, with its own credentials, so an artifact URI outside
// the root (or a file name climbing out of an artifact) is refused rather
// than opened.

// ArtifactFile is one object of an artifact: the artifact itself, or a
// file of a directory artifact.
type ArtifactFile struct {
	// Name is the path inside a directory artifact ("" for the artifact
	// itself).
	Name string `json:"name"`
	// Size is its size in bytes.
	Size int64 `json:"size"`
}

// ErrNotInRoot marks a URI outside the store's root.
var ErrNotInRoot = errors.New("not under the pipeline root")

// rootKey maps a URI under the root to its key, refusing anything else
// (another bucket, a path outside the root, dot segments).
func (s *Store) rootKey(uri string) (string, error) {
	if strings.Contains(uri, "\\") || strings.Contains(uri, "/./") || strings.Contains(uri, "/../") || strings.HasSuffix(uri, "/..") || strings.HasSuffix(uri, "/.") {
		return "", fmt.Errorf("%q: %w", uri, ErrNotInRoot)
	}
	key, err := s.key(uri)
	if err != nil {
		return "", fmt.Errorf("%q: %w", uri, ErrNotInRoot)
	}
	if s.root.Scheme != "file" {
		rootPrefix := strings.Trim(s.root.Path, "/")
		if rootPrefix != "" && key != rootPrefix && !strings.HasPrefix(key, rootPrefix+"/") {
			return "", fmt.Errorf("%q: %w", uri, ErrNotInRoot)
		}
	} else if key, err = s.join(key); err != nil {
		return "", fmt.Errorf("%q: %w", uri, ErrNotInRoot)
	}
	if key == "" || key == "." || strings.HasPrefix(key, "../") || path.Clean(key) != key {
		return "", fmt.Errorf("%q: %w", uri, ErrNotInRoot)
	}
	return key, nil
}

// maxListedFiles bounds the files StatArtifact lists of a directory.
const maxListedFiles = 1000

// StatArtifact says what the artifact at uri is: one object (one file,
// Name ""), or a directory of objects (up to 1,000 listed). A URI with
// nothing under it is a not-found error (IsNotFound).
func (s *Store) StatArtifact(ctx context.Context, uri string) ([]ArtifactFile, error) {
	key, err := s.rootKey(uri)
	if err != nil {
		return nil, err
	}
	if attrs, err := s.bucket.Attributes(ctx, key); err == nil {
		return []ArtifactFile{{Size: attrs.Size}}, nil
	} else if !IsNotFound(err) {
		return nil, fmt.Errorf("reading %s: %w", uri, err)
	}
	it := s.bucket.List(&blob.ListOptions{Prefix: key + "/"})
	var out []ArtifactFile
	for len(out) < maxListedFiles {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", uri, err)
		}
		out = append(out, ArtifactFile{Name: strings.TrimPrefix(obj.Key, key+"/"), Size: obj.Size})
	}
	if len(out) == 0 {
		_, err := s.bucket.Attributes(ctx, key) // the NotFound error
		return nil, fmt.Errorf("reading %s: %w", uri, err)
	}
	return out, nil
}

// ReadArtifact reads up to limit bytes from offset of the artifact at uri
// (file "" for a single object, or the path of a file of a directory
// artifact) and returns them with the object's size.
func (s *Store) ReadArtifact(ctx context.Context, uri, file string, offset, limit int64) ([]byte, int64, error) {
	key, err := s.rootKey(uri)
	if err != nil {
		return nil, 0, err
	}
	if file != "" {
		if path.IsAbs(file) || path.Clean(file) != file || file == ".." || strings.HasPrefix(file, "../") || strings.Contains(file, "\\") {
			return nil, 0, fmt.Errorf("file %q of %s: %w", file, uri, ErrNotInRoot)
		}
		key += "/" + file
	}
	attrs, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", uri, err)
	}
	if offset >= attrs.Size || limit <= 0 {
		return nil, attrs.Size, nil
	}
	r, err := s.bucket.NewRangeReader(ctx, key, offset, min(limit, attrs.Size-offset), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", uri, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", uri, err)
	}
	return b, attrs.Size, nil
}
