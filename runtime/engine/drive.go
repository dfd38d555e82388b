package engine

import (
	"context"
	"time"
)

// Executor runs task attempts for the engine. Start must not block: the
// outcome arrives later on Events. The local executor runs processes; the
// pod executor (controller) creates pods.
type Executor interface {
	// Start begins one attempt.
	Start(ctx context.Context, a Action)
	// Cancel stops an attempt; its late result is ignored by the engine.
	Cancel(a Action)
	// Events delivers TaskFinished events.
	Events() <-chan Event
}

// Cache stores task results by cache key. Implementations do I/O, so the
// driver consults them, never Step.
type Cache interface {
	// Get returns a stored result.
	Get(ctx context.Context, key string) (*CachedResult, bool)
	// Put stores a result.
	Put(ctx context.Context, key string, r *CachedResult) error
}

// CachedResult is a task's reusable outputs.
type CachedResult struct {
	// Params are output parameters.
	Params map[string]any `json:"params,omitempty"`
	// Artifacts are output artifacts (their URIs stay valid).
	Artifacts map[string][]Artifact `json:"artifacts,omitempty"`
}

// Observer is told about every phase change while driving.
type Observer func(s *State, c Change)

// Drive runs s to completion with x, in memory: it calls Step, dispatches
// actions, and waits for events or the next timer. Cancelling ctx cancels
// the run (running attempts are stopped) and Drive returns when the state
// is final. The controller does the same per reconcile with its state in
// the PipelineRun status.
func (e *Engine) Drive(ctx context.Context, s *State, x Executor, cache Cache, observe Observer) {
	var pending []Event
	inflight := map[int32]Action{}
	cancelled := false
	clock := time.Now
	for {
		res := e.Step(s, clock(), pending...)
		pending = pending[:0]
		for _, c := range res.Changes {
			if observe != nil {
				observe(s, c)
			}
		}
		for _, a := range res.Actions {
			switch a.Kind {
			case StartTask:
				if cache != nil && a.Task.CacheKey != "" {
					if hit, ok := cache.Get(ctx, a.Task.CacheKey); ok {
						pending = append(pending, Event{Kind: TaskFinished, Node: a.Node, Attempt: a.Attempt, Succeeded: true, Cached: true, Params: hit.Params, Artifacts: hit.Artifacts})
						continue
					}
				}
				inflight[a.Node] = a
				x.Start(ctx, a)
			case CancelTask:
				delete(inflight, a.Node)
				x.Cancel(a)
			}
		}
		if len(pending) > 0 {
			continue
		}
		if s.Phase != RunRunning && len(inflight) == 0 {
			return
		}
		var timer <-chan time.Time
		var t *time.Timer
		if !res.WakeAt.IsZero() {
			t = time.NewTimer(time.Until(res.WakeAt))
			timer = t.C
		}
		done := ctx.Done()
		if cancelled {
			done = nil
		}
		select {
		case ev := <-x.Events():
			if a, ok := inflight[ev.Node]; ok && a.Attempt == ev.Attempt {
				delete(inflight, ev.Node)
				if ev.Succeeded && cache != nil && a.Task.CacheKey != "" {
					_ = cache.Put(context.WithoutCancel(ctx), a.Task.CacheKey, &CachedResult{Params: ev.Params, Artifacts: ev.Artifacts})
				}
			}
			pending = append(pending, ev)
		case <-timer:
		case <-done:
			cancelled = true
			pending = append(pending, Event{Kind: CancelRun})
		}
		if t != nil {
			t.Stop()
		}
	}
}
