// Package local runs pipeline tasks as subprocesses of the current process,
// like KFP's SubprocessRunner: container images are ignored and each
// command runs on this machine, through the same launcher a task pod uses.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// Executor runs attempts as local processes, at most MaxParallel at once.
type Executor struct {
	cfg    launcher.Config
	store  *launcher.Store
	sem    chan struct{}
	events chan engine.Event
	stop   chan struct{}

	mu sync.Mutex
	// cancels are keyed by attempt, not by node: a retry may start before
	// the cancelled attempt's goroutine has ended, and each must keep its
	// own cancel.
	cancels map[attempt]context.CancelCauseFunc
	wg      sync.WaitGroup
	// Log, when set, gets each task's output prefixed with its path.
	Log io.Writer
}

// attempt names one attempt of a node.
type attempt struct{ node, attempt int32 }

// New returns an executor. maxParallel <= 0 means no limit of its own
// (the engine's run-level limit still applies).
func New(cfg launcher.Config, store *launcher.Store, maxParallel int) *Executor {
	x := &Executor{cfg: cfg, store: store, events: make(chan engine.Event), stop: make(chan struct{}), cancels: map[attempt]context.CancelCauseFunc{}}
	if maxParallel > 0 {
		x.sem = make(chan struct{}, maxParallel)
	}
	return x
}

// Events implements engine.Executor.
func (x *Executor) Events() <-chan engine.Event { return x.events }

// errCancelled marks attempts stopped by the engine (timeout or cancel).
var errCancelled = errors.New("cancelled by the engine")

// Start implements engine.Executor.
func (x *Executor) Start(ctx context.Context, a engine.Action) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	if a.Task.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, a.Task.Timeout, fmt.Errorf("timed out after %s", a.Task.Timeout))
		inner := cancel
		cancel = func(err error) { stop(); inner(err) }
	}
	k := attempt{a.Node, a.Attempt}
	x.mu.Lock()
	x.cancels[k] = cancel
	x.mu.Unlock()
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		defer cancel(nil)
		ev := x.run(ctx, a)
		x.mu.Lock()
		delete(x.cancels, k)
		x.mu.Unlock()
		select {
		case x.events <- ev:
		case <-x.stop:
		}
	}()
}

func (x *Executor) run(ctx context.Context, a engine.Action) engine.Event {
	ev := engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt}
	if x.sem != nil {
		select {
		case x.sem <- struct{}{}:
			defer func() { <-x.sem }()
		case <-ctx.Done():
			ev.Message = context.Cause(ctx).Error()
			return ev
		}
	}
	cfg := x.cfg
	cfg.Attempt = a.Attempt
	if x.Log != nil {
		cfg.Log = &prefixWriter{w: x.Log, prefix: "[" + a.Task.Path + "] "}
	}
	res, err := launcher.Run(ctx, a.Task, cfg, x.store)
	if err != nil {
		ev.Message = err.Error()
		var te *launcher.TaskError
		if errors.As(err, &te) {
			ev.Notes = te.Notes
		}
		return ev
	}
	ev.Succeeded, ev.Params, ev.Artifacts, ev.Notes = true, res.Params, res.Artifacts, res.Notes
	return ev
}

// Cancel implements engine.Executor: it stops that attempt only, never a
// later attempt of the same node.
func (x *Executor) Cancel(a engine.Action) {
	x.mu.Lock()
	cancel := x.cancels[attempt{a.Node, a.Attempt}]
	x.mu.Unlock()
	if cancel != nil {
		cancel(errCancelled)
	}
}

// Close stops delivering events and waits for running processes to end.
func (x *Executor) Close() {
	close(x.stop)
	x.mu.Lock()
	for _, c := range x.cancels {
		c(errCancelled)
	}
	x.mu.Unlock()
	x.wg.Wait()
}

// prefixWriter prefixes each line, so interleaved task logs stay readable.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]byte, 0, len(b)+len(p.prefix))
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
