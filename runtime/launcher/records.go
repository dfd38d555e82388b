package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
)

// What the launcher keeps of each attempt in the artifact store, beside the
// task's artifacts, so that it outlives the pod (or process) that ran it:
//
//	<AttemptDir>/log/<start offset, 20 digits>   the output, in chunks
//	<AttemptDir>/record.json                     the attempt's Record
//
// The output (stdout and stderr, interleaved as the command wrote them, as
// `kubectl logs` shows them) is written while the command runs: the open
// chunk is rewritten every LogFlushInterval while output arrives, and
// sealed once it holds logChunkBytes, so a reader can follow a running
// task and page through a finished one by byte offset without reading it
// whole. The record says how the attempt ended and what it read and
// wrote; the run's status keeps only what the engine needs.

// DefaultLogFlushInterval is how often a running attempt's output is
// brought up to date in the store.
const DefaultLogFlushInterval = time.Second

// DefaultMaxLogBytes bounds the output kept of one attempt; the rest is
// dropped, with a note at the end.
const DefaultMaxLogBytes = 1 << 30

// logChunkBytes is the size at which the open chunk is sealed and a new
// one begins: small enough that rewriting it is cheap, large enough that a
// long log has few chunks.
const logChunkBytes = 256 << 10

// logOffsetDigits is the width of a chunk's name, its start offset, so
// that names sort as offsets do.
const logOffsetDigits = 20

// AttemptDir is the key, relative to the pipeline root, under which the
// launcher keeps what it records of one attempt of a task: next to the
// task's artifacts (ArtifactURI), in a directory no output name can take.
func AttemptDir(run *engine.TaskRun, attempt int32) string {
	return AttemptDirOf(run.PipelineName, run.RunDir(), run.Path, attempt)
}

// AttemptDirOf is AttemptDir from the names that make it up: the
// pipeline's name (its spec's, as ArtifactURI uses it), the run's
// directory (engine.RunDir: its UID, so that reruns under one name never
// share records), the task's path in the run and the attempt number.
func AttemptDirOf(pipelineName, runDir, path string, attempt int32) string {
	return pipelineName + "/" + runDir + "/" + safePath(path) + "/.kfstack/attempts/" + strconv.Itoa(int(attempt))
}

// Record is what the launcher writes of a finished attempt.
type Record struct {
	// Run is the run's ID.
	Run string `json:"run"`
	// Task is the task's path in the run.
	Task string `json:"task"`
	// Attempt is the attempt's number.
	Attempt int32 `json:"attempt"`
	// Start and End are when the command started and ended.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Succeeded says whether the attempt succeeded; Error says why not.
	Succeeded bool   `json:"succeeded"`
	Error     string `json:"error,omitempty"`
	// ExitCode is the command's exit code (-1 when it did not exit by
	// itself, or never started).
	ExitCode int `json:"exitCode"`
	// Inputs are what the attempt read.
	Inputs RecordValues `json:"inputs"`
	// Outputs are what it wrote (none when it failed).
	Outputs RecordValues `json:"outputs"`
	// LogBytes is the size of the output kept; LogTruncated says the
	// command wrote more than that.
	LogBytes     int64 `json:"logBytes"`
	LogTruncated bool  `json:"logTruncated,omitempty"`
}

// RecordValues are the parameters and artifacts an attempt read or wrote,
// with the artifacts' URIs, types and metadata (metrics values included).
type RecordValues struct {
	// Parameters are values by name.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Artifacts are artifact lists by name.
	Artifacts map[string][]engine.Artifact `json:"artifacts,omitempty"`
}

// runRecorded is Run with Config.KeepRecords: the output is kept in the
// store as it is written, and the record once the attempt ends.
func runRecorded(ctx context.Context, run *engine.TaskRun, cfg Config, store *Store) (*Result, error) {
	dir := AttemptDir(run, cfg.Attempt)
	logs := NewLogWriter(ctx, store, dir+"/log", cfg.LogFlushInterval, cfg.MaxLogBytes)
	if cfg.Log != nil {
		cfg.Log = io.MultiWriter(cfg.Log, logs)
	} else {
		cfg.Log = logs
	}
	rec := &Record{Run: run.RunID, Task: run.Path, Attempt: cfg.Attempt, Start: time.Now().UTC(), ExitCode: -1,
		Inputs: RecordValues{Parameters: run.Params, Artifacts: run.Artifacts}}
	res, err := runAttempt(ctx, run, cfg, store)
	rec.End = time.Now().UTC()
	logErr := logs.Close()
	rec.LogBytes, rec.LogTruncated = logs.Size()
	var exit *exec.ExitError
	switch {
	case err == nil:
		rec.Succeeded, rec.ExitCode = true, 0
		rec.Outputs = RecordValues{Parameters: res.Params, Artifacts: res.Artifacts}
	case errors.As(err, &exit):
		rec.Error, rec.ExitCode = errorText(err), exit.ExitCode()
	default:
		rec.Error = errorText(err)
	}
	// Keeping the record must not turn a finished attempt into a failed
	// one: the task's outputs are what the run depends on.
	b, merr := json.Marshal(rec)
	if merr == nil {
		merr = store.WriteAll(context.WithoutCancel(ctx), dir+"/record.json", b)
	}
	if merr != nil || logErr != nil {
		fmt.Fprintf(cfgLog(cfg), "kfstack: keeping the attempt's record in the artifact store: %v\n", errors.Join(merr, logErr))
	}
	return res, err
}

// errorText is the failure without the log tail TaskError adds (the
// log is kept whole).
func errorText(err error) string {
	var te *TaskError
	if errors.As(err, &te) {
		return te.Err.Error()
	}
	return err.Error()
}

func cfgLog(cfg Config) io.Writer {
	if cfg.Log == nil {
		return io.Discard
	}
	return cfg.Log
}

// ReadRecord reads an attempt's record; IsNotFound tells a missing one
// (the attempt has not ended, or ran before records were kept).
func ReadRecord(ctx context.Context, store *Store, dir string) (*Record, error) {
	b, err := store.ReadAll(ctx, dir+"/record.json")
	if err != nil {
		return nil, err
	}
	rec := &Record{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("decoding the record of %s: %w", dir, err)
	}
	return rec, nil
}

// LogWriter keeps an attempt's output in the artifact store while it is
// written (see AttemptDir): bytes are buffered and the open chunk is
// written again every flush interval while new output arrives.
type LogWriter struct {
	store    *Store
	dir      string
	interval time.Duration
	max      int64

	mu        sync.Mutex
	chunk     []byte // the open chunk, from chunkAt
	chunkAt   int64
	size      int64 // bytes accepted (at most max)
	written   int64 // bytes in the store
	truncated bool
	dirty     bool
	err       error
	closed    bool

	// flushMu serialises writes of the store, so that an older version of
	// the open chunk never lands after a newer one.
	flushMu  sync.Mutex
	flushNow chan struct{}
	done     chan struct{}
	stopped  chan struct{}
	ctx      context.Context
}

// NewLogWriter starts a writer of the log under dir (a key relative to the
// store's root). interval <= 0 means DefaultLogFlushInterval, maxBytes <=
// 0 DefaultMaxLogBytes. Close flushes what is left.
func NewLogWriter(ctx context.Context, store *Store, dir string, interval time.Duration, maxBytes int64) *LogWriter {
	if interval <= 0 {
		interval = DefaultLogFlushInterval
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxLogBytes
	}
	w := &LogWriter{store: store, dir: dir, interval: interval, max: maxBytes, flushNow: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), ctx: context.WithoutCancel(ctx)}
	go w.loop()
	return w
}

// truncatedNote ends a log that hit its limit.
const truncatedNote = "\n[kfstack: the output was cut here at %d bytes; the rest was not kept]\n"

// Write buffers p; it never fails the command whose output it keeps.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.truncated {
		return len(p), nil
	}
	b := p
	if room := w.max - w.size; int64(len(b)) > room {
		b = b[:room]
		w.truncated = true
	}
	w.chunk = append(w.chunk, b...)
	w.size += int64(len(b))
	if w.truncated {
		note := fmt.Sprintf(truncatedNote, w.max)
		w.chunk = append(w.chunk, note...)
		w.size += int64(len(note))
	}
	w.dirty = true
	if len(w.chunk) >= 4*logChunkBytes {
		// A fast writer: do not let the buffer grow until the next tick.
		select {
		case w.flushNow <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (w *LogWriter) loop() {
	defer close(w.stopped)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.flushNow:
		case <-w.done:
			return
		}
		w.flush()
	}
}

// flush writes the open chunk if it changed, and seals it when it is full.
func (w *LogWriter) flush() {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		return
	}
	data := append([]byte(nil), w.chunk...)
	at := w.chunkAt
	w.dirty = false
	if len(w.chunk) >= logChunkBytes {
		w.chunkAt += int64(len(w.chunk))
		w.chunk = w.chunk[:0]
	}
	w.mu.Unlock()
	err := w.store.WriteAll(w.ctx, w.dir+"/"+chunkName(at), data)
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("writing log chunk at %d: %w", at, err)
	}
	if err == nil && at+int64(len(data)) > w.written {
		w.written = at + int64(len(data))
	}
	w.mu.Unlock()
}

// Close flushes the rest and stops the writer; it returns the first error
// writing to the store met.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	<-w.stopped
	w.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Size is the number of bytes of output kept (with the note of a cut), and
// whether more was cut.
func (w *LogWriter) Size() (int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size, w.truncated
}

func chunkName(offset int64) string {
	s := strconv.FormatInt(offset, 10)
	return strings.Repeat("0", max(0, logOffsetDigits-len(s))) + s
}

// logChunk is a stored chunk: its start offset and size.
type logChunk struct {
	key    string
	offset int64
	size   int64
}

// listLog returns the chunks of a log in offset order. A chunk whose name
// is not an offset is ignored.
func (s *Store) listLog(ctx context.Context, dir string) ([]logChunk, error) {
	joined, err := s.join(dir)
	if err != nil {
		return nil, err
	}
	prefix := joined + "/"
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	var out []logChunk
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("listing the log %s: %w", dir, err)
		}
		name := strings.TrimPrefix(obj.Key, prefix)
		off, err := strconv.ParseInt(name, 10, 64)
		if err != nil || len(name) != logOffsetDigits || obj.IsDir {
			continue
		}
		out = append(out, logChunk{key: obj.Key, offset: off, size: obj.Size})
	}
	return out, nil
}

// LogPage is a part of a kept log.
type LogPage struct {
	// Offset is where Data starts in the log.
	Offset int64
	// Data are the bytes read (at most the limit asked for).
	Data []byte
	// Size is the log's size when it was read (it grows while the task
	// runs).
	Size int64
}

// ReadLog reads up to limit bytes of the log under dir (an AttemptDir's
// "log") from offset; an offset past the end reads nothing. A negative
// offset counts from the end, so -limit reads the last page. A log with no
// chunk yet has size 0 (the task has printed nothing, or has not started).
func ReadLog(ctx context.Context, store *Store, dir string, offset, limit int64) (*LogPage, error) {
	chunks, err := store.listLog(ctx, dir)
	if err != nil {
		return nil, err
	}
	page := &LogPage{}
	if n := len(chunks); n > 0 {
		page.Size = chunks[n-1].offset + chunks[n-1].size
	}
	if offset < 0 {
		offset = max(0, page.Size+offset)
	}
	page.Offset = min(offset, page.Size)
	if limit <= 0 {
		return page, nil
	}
	for _, c := range chunks {
		end := page.Offset + int64(len(page.Data))
		if int64(len(page.Data)) >= limit || end >= page.Size {
			break
		}
		if c.offset+c.size <= end {
			continue
		}
		if c.offset > end {
			return nil, fmt.Errorf("reading the log %s: bytes %d to %d are missing", dir, end, c.offset)
		}
		from := end - c.offset
		n := min(c.size-from, limit-int64(len(page.Data)))
		r, err := store.bucket.NewRangeReader(ctx, c.key, from, n, nil)
		if err != nil {
			return nil, fmt.Errorf("reading the log %s: %w", dir, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the log %s: %w", dir, err)
		}
		page.Data = append(page.Data, b...)
	}
	return page, nil
}

// OpenStoreReadOnly opens a pipeline root to read from it: unlike
// OpenStore it never creates a file:// root's directory (a reader such as
// the UI has nothing to read there yet, and must not make it).
func OpenStoreReadOnly(ctx context.Context, root string) (*Store, error) {
	if u, err := url.Parse(root); err == nil && u.Scheme == "file" {
		if _, err := os.Stat(u.Path); err != nil {
			return nil, fmt.Errorf("opening pipeline root %q: %w", root, err)
		}
	}
	// A reader of runs' own artifacts: nothing outside the root.
	return OpenStore(ctx, root, StoreOptions{})
}
