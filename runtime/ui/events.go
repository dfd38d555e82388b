package ui

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// hub tells open pages which runs changed, from the informer: no page
// reloads and no polling of the API server. A page subscribes to a
// namespace (the run list) or to one run (the run page).
type hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	ns, run string
	notify  chan struct{}
	mu      sync.Mutex
	pending map[string]bool
	// experiments is set when an experiment of the namespace changed.
	experiments bool
	overflow    bool
}

// maxPending bounds the changes kept for a slow page; past it the page is
// told to reload its list.
const maxPending = 2000

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

// watch registers the hub's handlers with the informers of runs and
// experiments.
func (h *hub) watch(ctx context.Context, c cache.Cache) error {
	for _, obj := range []client.Object{&v1alpha1.PipelineRun{}, &v1alpha1.Experiment{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		_, isExp := obj.(*v1alpha1.Experiment)
		publish := func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if m, ok := o.(client.Object); ok {
				h.publish(m.GetNamespace(), m.GetName(), isExp)
			}
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    publish,
			UpdateFunc: func(_, n any) { publish(n) },
			DeleteFunc: publish,
		}); err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	return nil
}

func (h *hub) publish(ns, name string, experiment bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if sub.ns != ns || (sub.run != "" && (experiment || sub.run != name)) {
			continue
		}
		sub.mu.Lock()
		switch {
		case experiment:
			sub.experiments = true
		case len(sub.pending) >= maxPending:
			sub.overflow = true
		default:
			sub.pending[name] = true
		}
		sub.mu.Unlock()
		select {
		case sub.notify <- struct{}{}:
		default:
		}
	}
}

func (h *hub) subscribe(ns, run string) *subscriber {
	sub := &subscriber{ns: ns, run: run, notify: make(chan struct{}, 1), pending: map[string]bool{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.subs[sub] = struct{}{}
	}
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	clear(h.subs)
}

// take returns and clears what changed.
func (sub *subscriber) take() (names []string, experiments, overflow bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for n := range sub.pending {
		names = append(names, n)
	}
	clear(sub.pending)
	experiments, overflow = sub.experiments, sub.overflow
	sub.experiments, sub.overflow = false, false
	return names, experiments, overflow
}

// eventsInterval spaces the updates a page gets, so a run with thousands
// of tasks finishing does not flood it.
const eventsInterval = 300 * time.Millisecond

// streamEvents sends a page the runs that changed in a namespace (or one
// run): "run" events with the run's summary, "deleted" with its name,
// "experiments" when an experiment changed, "reset" when the page should
// load its list again. Access is asked again on every update, so a
// revoked role stops the stream.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, id *Identity) {
	ns, run := r.URL.Query().Get("namespace"), r.URL.Query().Get("run")
	if ns == "" {
		writeError(w, http.StatusBadRequest, "namespace: required")
		return
	}
	q := readRuns(ns)
	if run != "" {
		q = readRun(ns, run)
	}
	if !s.may(w, r, id, q) {
		return
	}
	sub := s.events.subscribe(ns, run)
	defer s.events.unsubscribe(sub)
	sse, ok := startSSE(w)
	if !ok {
		return
	}
	sse.send("ready", map[string]string{"namespace": ns, "run": run})
	ctx := r.Context()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			sse.comment("keep-alive")
			continue
		case <-sub.notify:
		}
		if !s.mayQuietly(ctx, id, q) {
			sse.send("error", map[string]string{"error": fmt.Sprintf("%s may no longer %s", id.User, q)})
			return
		}
		names, experiments, overflow := sub.take()
		if overflow {
			sse.send("reset", map[string]string{})
		}
		if experiments {
			sse.send("experiments", map[string]string{})
		}
		now := time.Now()
		for _, name := range names {
			obj, err := s.data.run(ctx, ns, name)
			if err != nil {
				sse.send("deleted", map[string]string{"name": name})
				continue
			}
			sse.send("run", summarize(obj, now))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(eventsInterval):
		}
	}
}
