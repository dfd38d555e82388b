package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// checkRoot reports a pipeline root the UI cannot read.
func checkRoot(root string) error {
	u, err := url.Parse(root)
	if err != nil {
		return fmt.Errorf("pipeline root %q: %w", root, err)
	}
	switch u.Scheme {
	case "file", "gs", "s3":
	default:
		return fmt.Errorf("pipeline root %q: the scheme must be file://, gs:// or s3://", root)
	}
	if path.Clean("/"+u.Path) != "/"+strings.Trim(u.Path, "/") && u.Path != "" {
		return fmt.Errorf("pipeline root %q: the path must be clean (no . or .. segments)", root)
	}
	return nil
}

// rootParts splits a root into what is compared: the location (scheme,
// host, path without trailing slash) and the query (an S3 endpoint).
func rootParts(root string) (string, string) {
	loc, query, _ := strings.Cut(root, "?")
	return strings.TrimRight(loc, "/"), query
}

// rootOf returns the run's pipeline root if the UI may read it: the
// controller's default root, or a root at or under an allowed one (with
// the same query). A run may name any root; the UI reads only those the
// operator allowed, with its own credentials.
func (s *Server) rootOf(run *v1alpha1.PipelineRun) (string, error) {
	root := run.Spec.PipelineRoot
	if root == "" {
		root = s.opts.PipelineRoot
	}
	if root == "" {
		return "", errors.New("the run names no pipeline root and the UI knows no default one")
	}
	if err := checkRoot(root); err != nil {
		return "", err
	}
	loc, query := rootParts(root)
	for _, allowed := range append([]string{s.opts.PipelineRoot}, s.opts.AllowedRoots...) {
		if allowed == "" {
			continue
		}
		aloc, aquery := rootParts(allowed)
		if query == aquery && (loc == aloc || strings.HasPrefix(loc, aloc+"/")) {
			return root, nil
		}
	}
	return "", fmt.Errorf("the run's pipeline root %s is not one the UI may read (the operator allows: %s)", root, strings.Join(append([]string{s.opts.PipelineRoot}, s.opts.AllowedRoots...), ", "))
}

// runDir is where the run's own artifacts and records are: under
// <root>/<pipeline>/<run UID>/ (engine.RunDir; launcher.ArtifactURI,
// AttemptDir).
func (v *runView) runDir(root string) string {
	loc, _ := rootParts(root)
	return loc + "/" + v.plan.Name + "/" + engine.RunDir(v.state.RunID, v.state.RunUID) + "/"
}

// readableURI checks that the UI may read an artifact of the run: one the
// run's tasks wrote, under the run's own directory of a root it may read.
// An importer's URI or a URI a task made up are not read (a run's state
// holds whatever its tasks reported).
func (s *Server) readableURI(v *runView, uri string) error {
	root, err := s.rootOf(v.run)
	if err != nil {
		return err
	}
	if v.plan == nil || v.state == nil {
		return errors.New("the run has no artifacts yet")
	}
	if !strings.HasPrefix(uri, v.runDir(root)) {
		return fmt.Errorf("%s is not under the run's own directory %s: the UI reads only what the run wrote there", uri, v.runDir(root))
	}
	return nil
}

// previewKind says how the page previews an artifact, from its type.
func previewKind(a engine.Artifact) string {
	switch a.SchemaTitle {
	case "system.Metrics":
		return "metrics"
	case "system.ClassificationMetrics":
		return "classification"
	case "system.HTML":
		return "html"
	case "system.Markdown":
		return "markdown"
	}
	return "text"
}

// artifactOf resolves the {output}/{index} of an artifact URL: an output
// artifact of the task.
func (s *Server) artifactOf(w http.ResponseWriter, r *http.Request, id *Identity) (*runView, int32, engine.Artifact, bool) {
	v, i, ok := s.taskOf(w, r, id)
	if !ok {
		return nil, 0, engine.Artifact{}, false
	}
	output := r.PathValue("output")
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		writeError(w, http.StatusBadRequest, "index: %q is not an index", r.PathValue("index"))
		return nil, 0, engine.Artifact{}, false
	}
	list, ok := v.state.Nodes[i].Artifacts[output]
	if !ok || index >= len(list) {
		writeError(w, http.StatusNotFound, "task %s has no output artifact %s[%d]", v.eng.Path(v.state, i), output, index)
		return nil, 0, engine.Artifact{}, false
	}
	return v, i, list[index], true
}

// artifactInfo is an artifact with where it came from and what it holds.
type artifactInfo struct {
	artifactJSON
	Producer artifactRefJSON         `json:"producer"`
	Files    []launcher.ArtifactFile `json:"files,omitempty"`
	Error    string                  `json:"error,omitempty"`
}

func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request, id *Identity) {
	v, i, a, ok := s.artifactOf(w, r, id)
	if !ok {
		return
	}
	output, index := r.PathValue("output"), 0
	index, _ = strconv.Atoi(r.PathValue("index"))
	info := artifactInfo{artifactJSON: s.artifactJSON(r.Context(), v, output, index, a),
		Producer: artifactRefJSON{Namespace: v.run.Namespace, Run: v.run.Name, Node: i, Task: v.eng.Path(v.state, i), Attempt: v.state.Nodes[i].Attempt, Output: output, Index: index}}
	if info.Unreadable == "" {
		if store, err := s.storeOf(r.Context(), v); err != nil {
			info.Error = err.Error()
		} else if files, err := store.StatArtifact(r.Context(), a.URI); err != nil {
			info.Error = storeError(err)
		} else {
			info.Files = files
		}
	}
	writeJSON(w, info)
}

func storeError(err error) string {
	if launcher.IsNotFound(err) {
		return "the artifact is not in the store (deleted, or never written)"
	}
	return err.Error()
}

// maxPreviewBytes bounds one read of artifact content.
const maxPreviewBytes = 4 << 20

func (s *Server) artifactContent(w http.ResponseWriter, r *http.Request, id *Identity) {
	v, _, a, ok := s.artifactOf(w, r, id)
	if !ok {
		return
	}
	if err := s.readableURI(v, a.URI); err != nil {
		writeError(w, http.StatusForbidden, "%v", err)
		return
	}
	q := r.URL.Query()
	offset, err := strconv.ParseInt(cmpOr(q.Get("offset"), "0"), 10, 64)
	if err != nil || offset < 0 {
		writeError(w, http.StatusBadRequest, "offset: %q is not a byte offset", q.Get("offset"))
		return
	}
	limit, err := strconv.ParseInt(cmpOr(q.Get("limit"), strconv.Itoa(maxPreviewBytes)), 10, 64)
	if err != nil || limit <= 0 || limit > maxPreviewBytes {
		writeError(w, http.StatusBadRequest, "limit: %q is not between 1 and %d", q.Get("limit"), maxPreviewBytes)
		return
	}
	store, err := s.storeOf(r.Context(), v)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return
	}
	file := q.Get("file")
	b, size, err := store.ReadArtifact(r.Context(), a.URI, file, offset, limit)
	switch {
	case errors.Is(err, launcher.ErrNotInRoot):
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	case err != nil && launcher.IsNotFound(err):
		writeError(w, http.StatusNotFound, "%s: %s", a.URI+suffix(file), storeError(err))
		return
	case err != nil:
		writeError(w, http.StatusBadGateway, "%v", err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Size", strconv.FormatInt(size, 10))
	h.Set("X-Content-Offset", strconv.FormatInt(offset, 10))
	h.Set("Cache-Control", "no-store")
	switch {
	case q.Get("as") == "html":
		// Whatever the task wrote runs in an opaque origin: scripts may
		// run, but reach neither the UI's cookies nor its API.
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	case q.Get("download") != "":
		h.Set("Content-Type", "application/octet-stream")
		name := path.Base(a.URI)
		if file != "" {
			name = path.Base(file)
		}
		h.Set("Content-Disposition", "attachment; filename="+strconv.Quote(name))
	case utf8.Valid(b) || len(b) == int(limit):
		h.Set("Content-Type", "text/plain; charset=utf-8")
	default:
		h.Set("Content-Type", "application/octet-stream")
	}
	_, _ = w.Write(b)
}

func suffix(file string) string {
	if file == "" {
		return ""
	}
	return "/" + file
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
