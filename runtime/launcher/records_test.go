package launcher

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordsKeepLogAndRecord runs the fixture's producer with records on:
// the attempt's record names what it read and wrote (with the artifact's
// metadata) and its output is kept beside the artifacts.
func TestRecordsKeepLogAndRecord(t *testing.T) {
	p := artifactsPlan(t)
	store, _ := openStore(t)
	run := taskRun(p, "produce", map[string]any{"rows": 4.0}, nil)
	cfg := Config{Mode: LocalMode, PipelineRoot: store.URI(""), WorkDir: t.TempDir(), KeepRecords: true, Attempt: 2}
	if _, err := Run(context.Background(), run, cfg, store); err != nil {
		t.Fatal(err)
	}
	dir := AttemptDir(run, 2)
	if dir != p.Name+"/run-7/produce/.kfstack/attempts/2" {
		t.Errorf("attempt dir %s", dir)
	}
	rec, err := ReadRecord(context.Background(), store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Succeeded || rec.ExitCode != 0 || rec.Attempt != 2 || rec.Task != "produce" || rec.Run != "run-7" || rec.End.Before(rec.Start) {
		t.Errorf("record %+v", rec)
	}
	if rec.Inputs.Parameters["rows"] != 4.0 {
		t.Errorf("record inputs %+v", rec.Inputs)
	}
	data := rec.Outputs.Artifacts["data"]
	if len(data) != 1 || data[0].Metadata["rows"] != 4.0 || data[0].SchemaTitle != "system.Dataset" || !strings.HasSuffix(data[0].URI, "/produce/data") {
		t.Errorf("record outputs %+v", rec.Outputs)
	}
	page, err := ReadLog(context.Background(), store, dir+"/log", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if page.Size != rec.LogBytes || int64(len(page.Data)) != page.Size {
		t.Errorf("log of %d bytes, read %d, record says %d", page.Size, len(page.Data), rec.LogBytes)
	}
}

// TestRecordsOfAFailedAttempt keeps the whole output of a failing command
// (not only the tail a failure reports) and its exit code.
func TestRecordsOfAFailedAttempt(t *testing.T) {
	store, root := openStore(t)
	run := failingRun(t, `i=0; while [ $i -lt 500 ]; do echo "noise $i"; i=$((i+1)); done; echo "fatal: dataset missing" >&2; exit 4`, 0)
	_, err := Run(context.Background(), run, Config{PipelineRoot: root, WorkDir: t.TempDir(), KeepRecords: true, Attempt: 1}, store)
	if err == nil {
		t.Fatal("the command's failure was not reported")
	}
	dir := AttemptDir(run, 1)
	rec, err := ReadRecord(context.Background(), store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Succeeded || rec.ExitCode != 4 || !strings.Contains(rec.Error, "exit status 4") || strings.Contains(rec.Error, "noise") {
		t.Errorf("record %+v", rec)
	}
	page, err := ReadLog(context.Background(), store, dir+"/log", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(page.Data), "noise 0\nnoise 1\n") || !strings.HasSuffix(string(page.Data), "noise 499\nfatal: dataset missing\n") {
		t.Errorf("kept log %q…%q", page.Data[:min(40, len(page.Data))], page.Data[max(0, len(page.Data)-40):])
	}
}

// TestLogFollowWhileRunning reads the output of a command that is still
// running: what it printed is in the store within the flush interval,
// before it ends.
func TestLogFollowWhileRunning(t *testing.T) {
	store, root := openStore(t)
	gate := filepath.Join(t.TempDir(), "go")
	run := failingRun(t, fmt.Sprintf(`echo first; while [ ! -e %s ]; do sleep 0.02; done; echo second`, gate), 0)
	cfg := Config{PipelineRoot: root, WorkDir: t.TempDir(), KeepRecords: true, Attempt: 1, LogFlushInterval: 20 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), run, cfg, store)
		done <- err
	}()
	dir := AttemptDir(run, 1) + "/log"
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := ReadLog(context.Background(), store, dir, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if string(page.Data) == "first\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running command's output is not in the store: %q", page.Data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ReadRecord(context.Background(), store, AttemptDir(run, 1)); !IsNotFound(err) {
		t.Errorf("a running attempt has a record: %v", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	page, err := ReadLog(context.Background(), store, dir, 6, 100)
	if err != nil {
		t.Fatal(err)
	}
	if string(page.Data) != "second\n" || page.Offset != 6 || page.Size != 13 {
		t.Errorf("the rest of the log: %+v", page)
	}
}

// TestLogPagesAcrossChunks writes a log several chunks long and reads it
// back in pages that straddle the chunks, from the end, and past the end.
func TestLogPagesAcrossChunks(t *testing.T) {
	store, root := openStore(t)
	run := failingRun(t, `seq 1 200000`, time.Minute)
	cfg := Config{PipelineRoot: root, WorkDir: t.TempDir(), KeepRecords: true, Attempt: 1, LogFlushInterval: 5 * time.Millisecond}
	if _, err := Run(context.Background(), run, cfg, store); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := 1; i <= 200000; i++ {
		fmt.Fprintln(&want, i)
	}
	dir := AttemptDir(run, 1) + "/log"
	chunks, err := store.listLog(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Errorf("%d bytes in %d chunks; want several", want.Len(), len(chunks))
	}
	var got []byte
	const pageSize = 100_000
	for off := int64(0); ; {
		page, err := ReadLog(context.Background(), store, dir, off, pageSize)
		if err != nil {
			t.Fatal(err)
		}
		if page.Size != int64(want.Len()) {
			t.Fatalf("size %d, want %d", page.Size, want.Len())
		}
		if len(page.Data) == 0 {
			break
		}
		if len(page.Data) > pageSize {
			t.Fatalf("page of %d bytes, limit %d", len(page.Data), pageSize)
		}
		got = append(got, page.Data...)
		off += int64(len(page.Data))
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the log read in pages differs from what was written (%d vs %d bytes)", len(got), want.Len())
	}
	last, err := ReadLog(context.Background(), store, dir, -7, 7)
	if err != nil {
		t.Fatal(err)
	}
	if string(last.Data) != "200000\n" {
		t.Errorf("last page %q", last.Data)
	}
	past, err := ReadLog(context.Background(), store, dir, 1<<40, 10)
	if err != nil || len(past.Data) != 0 || past.Offset != past.Size {
		t.Errorf("past the end: %+v, %v", past, err)
	}
	none, err := ReadLog(context.Background(), store, AttemptDir(run, 9)+"/log", 0, 10)
	if err != nil || none.Size != 0 {
		t.Errorf("an attempt without output: %+v, %v", none, err)
	}
}

// TestLogIsCut keeps at most MaxLogBytes and says so.
func TestLogIsCut(t *testing.T) {
	store, root := openStore(t)
	run := failingRun(t, `seq 1 10000`, 0)
	cfg := Config{PipelineRoot: root, WorkDir: t.TempDir(), KeepRecords: true, Attempt: 1, MaxLogBytes: 1000}
	if _, err := Run(context.Background(), run, cfg, store); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(context.Background(), store, AttemptDir(run, 1))
	if err != nil {
		t.Fatal(err)
	}
	page, err := ReadLog(context.Background(), store, AttemptDir(run, 1)+"/log", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.LogTruncated || page.Size != rec.LogBytes || !strings.HasPrefix(string(page.Data), "1\n2\n") || !strings.Contains(string(page.Data), "the output was cut here at 1000 bytes") {
		t.Errorf("record %+v, log %q", rec, page.Data)
	}
}
