package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// Logs are read from the artifact store, where the launcher keeps each
// attempt's output while it runs (launcher.AttemptDir): they outlive the
// pod, and a huge log is served in pages by byte offset, never loaded
// whole. Reading them takes what `kubectl logs` takes: get pods/log in the
// run's namespace.

const (
	defaultLogPage = 64 << 10
	maxLogPage     = 1 << 20
	// followPoll is how often a followed log is looked at again.
	followPoll = 250 * time.Millisecond
)

// logOf resolves a log URL: the store and the log's directory, and
// whether the attempt has ended (its log will not grow).
func (s *Server) logOf(w http.ResponseWriter, r *http.Request, id *Identity) (*launcher.Store, string, func(context.Context) bool, bool) {
	ns := r.PathValue("ns")
	v, i, ok := s.taskOf(w, r, id, readLogs(ns))
	if !ok {
		return nil, "", nil, false
	}
	if !v.eng.IsContainer(v.state, i) {
		writeError(w, http.StatusBadRequest, "task %s is not a container task: it has no log", v.eng.Path(v.state, i))
		return nil, "", nil, false
	}
	attempt, err := strconv.Atoi(r.PathValue("attempt"))
	n := &v.state.Nodes[i]
	if err != nil || attempt < 1 || int32(attempt) > n.Attempt {
		writeError(w, http.StatusNotFound, "task %s has no attempt %s (it has %d)", v.eng.Path(v.state, i), r.PathValue("attempt"), n.Attempt)
		return nil, "", nil, false
	}
	store, err := s.storeOf(r.Context(), v)
	if err != nil {
		writeError(w, http.StatusNotFound, "the log cannot be read: %v", err)
		return nil, "", nil, false
	}
	dir := launcher.AttemptDirOf(v.plan.Name, engine.RunDir(v.state.RunID, v.state.RunUID), v.eng.Path(v.state, i), int32(attempt)) + "/log"
	runName, path := v.run.Name, v.eng.Path(v.state, i)
	ended := func(ctx context.Context) bool {
		run, err := s.data.run(ctx, ns, runName)
		if err != nil {
			return true // deleted: nothing more will come
		}
		cur := s.data.view(ctx, run)
		if cur.state == nil || int(i) >= len(cur.state.Nodes) || cur.eng == nil || cur.eng.Path(cur.state, i) != path {
			return true
		}
		cn := &cur.state.Nodes[i]
		return cn.Attempt > int32(attempt) || cn.Phase != engine.Running
	}
	return store, dir, ended, true
}

func (s *Server) getLog(w http.ResponseWriter, r *http.Request, id *Identity) {
	store, dir, ended, ok := s.logOf(w, r, id)
	if !ok {
		return
	}
	q := r.URL.Query()
	offset, err := strconv.ParseInt(cmpOr(q.Get("offset"), "0"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "offset: %q is not a byte offset (negative: from the end)", q.Get("offset"))
		return
	}
	limit, err := intParam(q.Get("limit"), defaultLogPage, 1, maxLogPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: %v", err)
		return
	}
	page, err := launcher.ReadLog(r.Context(), store, dir, offset, int64(limit))
	if err != nil {
		writeError(w, http.StatusBadGateway, "%v", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Log-Offset", strconv.FormatInt(page.Offset, 10))
	h.Set("X-Log-Size", strconv.FormatInt(page.Size, 10))
	h.Set("X-Log-Complete", strconv.FormatBool(ended(r.Context())))
	_, _ = w.Write(page.Data)
}

// logChunk is a server-sent event of a followed log.
type logChunk struct {
	Offset int64  `json:"offset"`
	Data   string `json:"data"`
	Size   int64  `json:"size"`
}

// followLog streams a log as server-sent events from offset: "log" events
// with what was added, "end" once the attempt ended and everything was
// sent.
func (s *Server) followLog(w http.ResponseWriter, r *http.Request, id *Identity) {
	store, dir, ended, ok := s.logOf(w, r, id)
	if !ok {
		return
	}
	offset, err := strconv.ParseInt(cmpOr(r.URL.Query().Get("offset"), "0"), 10, 64)
	if err != nil || offset < 0 {
		writeError(w, http.StatusBadRequest, "offset: %q is not a byte offset", r.URL.Query().Get("offset"))
		return
	}
	sse, ok := startSSE(w)
	if !ok {
		return
	}
	ctx := r.Context()
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	heartbeat := time.Now()
	for {
		done := ended(ctx)
		for {
			page, err := launcher.ReadLog(ctx, store, dir, offset, maxLogPage)
			if err != nil {
				sse.send("error", map[string]string{"error": err.Error()})
				return
			}
			if len(page.Data) == 0 {
				break
			}
			sse.send("log", logChunk{Offset: page.Offset, Data: string(page.Data), Size: page.Size})
			offset = page.Offset + int64(len(page.Data))
			heartbeat = time.Now()
		}
		if done {
			sse.send("end", map[string]int64{"size": offset})
			return
		}
		if time.Since(heartbeat) > 15*time.Second {
			sse.comment("keep-alive")
			heartbeat = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sseWriter writes server-sent events.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sseWriter, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported here")
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sseWriter{w: w, f: f}, true
}

func (s *sseWriter) send(event string, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b)
	s.f.Flush()
}

func (s *sseWriter) comment(text string) {
	fmt.Fprintf(s.w, ": %s\n\n", text)
	s.f.Flush()
}
