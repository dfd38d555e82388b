package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
)

// Lineage follows artifacts through runs. Within a run, the state says
// which task wrote an artifact (its output, with its URI) and the engine
// resolves again what each task read. Across runs, the link is the URI: a
// task that imports a URI another run wrote (an importer) used that run's
// artifact. lineageIndex maps URIs to the runs whose state holds them as a
// task's output; it is built from the runs the UI already watches, on the
// first question, and kept up to date from the informer (a changed run
// is read again at the next question), so nothing but the runs' own
// status is stored.

// uriRef is a run that holds a URI as a task's output.
type uriRef struct {
	Namespace, Run string
	UID            types.UID
	Created        int64
}

type lineageIndex struct {
	mu    sync.Mutex
	byURI map[string][]uriRef
	// byRun are the URIs indexed for each run, to drop them when it
	// changes.
	byRun map[types.UID][]string
	// dirty are runs changed since they were indexed; deleted the ones
	// gone.
	dirty   map[types.NamespacedName]bool
	deleted map[types.UID]bool
	built   bool
}

func newLineageIndex() *lineageIndex {
	return &lineageIndex{byURI: map[string][]uriRef{}, byRun: map[types.UID][]string{}, dirty: map[types.NamespacedName]bool{}, deleted: map[types.UID]bool{}}
}

// watch marks runs dirty as they change.
func (x *lineageIndex) watch(ctx context.Context, c cache.Cache, _ *data) error {
	inf, err := c.GetInformer(ctx, &v1alpha1.PipelineRun{})
	if err != nil {
		return fmt.Errorf("watching runs: %w", err)
	}
	mark := func(o any, gone bool) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o, gone = d.Obj, true
		}
		run, ok := o.(*v1alpha1.PipelineRun)
		if !ok {
			return
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		if gone {
			x.deleted[run.UID] = true
			return
		}
		x.dirty[client.ObjectKeyFromObject(run)] = true
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { mark(o, false) },
		UpdateFunc: func(_, n any) { mark(n, false) },
		DeleteFunc: func(o any) { mark(o, true) },
	})
	return err
}

// outputsOnly is the part of the engine's compact state the index reads:
// the nodes' output artifacts.
type outputsOnly struct {
	Details map[string]struct {
		Artifacts map[string][]struct {
			URI string `json:"uri"`
		} `json:"artifacts"`
	} `json:"details"`
}

// refs returns the runs holding uri as an output, oldest first, after
// indexing the runs that changed.
func (x *lineageIndex) refs(ctx context.Context, d *data, uri string) []uriRef {
	x.mu.Lock()
	dirty := x.dirty
	x.dirty = map[types.NamespacedName]bool{}
	deleted := x.deleted
	x.deleted = map[types.UID]bool{}
	x.built = true
	x.mu.Unlock()
	for name := range dirty {
		run := &v1alpha1.PipelineRun{}
		if err := d.cache.Get(ctx, name, run, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		var uris []string
		if st := run.Status.State; st != nil && len(st.Raw) > 0 {
			var o outputsOnly
			if err := json.Unmarshal(st.Raw, &o); err == nil {
				seen := map[string]bool{}
				for _, det := range o.Details {
					for _, list := range det.Artifacts {
						for _, a := range list {
							if a.URI != "" && !seen[a.URI] {
								seen[a.URI] = true
								uris = append(uris, a.URI)
							}
						}
					}
				}
			}
		}
		x.put(uriRef{Namespace: run.Namespace, Run: run.Name, UID: run.UID, Created: run.CreationTimestamp.UnixMilli()}, uris)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for uid := range deleted {
		x.dropLocked(uid)
	}
	out := slices.Clone(x.byURI[uri])
	slices.SortFunc(out, func(a, b uriRef) int { return int(a.Created - b.Created) })
	return out
}

func (x *lineageIndex) put(ref uriRef, uris []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(ref.UID)
	for _, u := range uris {
		x.byURI[u] = append(x.byURI[u], ref)
	}
	x.byRun[ref.UID] = uris
}

func (x *lineageIndex) dropLocked(uid types.UID) {
	for _, u := range x.byRun[uid] {
		refs := slices.DeleteFunc(x.byURI[u], func(r uriRef) bool { return r.UID == uid })
		if len(refs) == 0 {
			delete(x.byURI, u)
		} else {
			x.byURI[u] = refs
		}
	}
	delete(x.byRun, uid)
}

// lineageNode is a task or an artifact of a lineage graph.
type lineageNode struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"` // task, artifact
	Namespace string `json:"namespace"`
	Run       string `json:"run"`
	Node      int32  `json:"node"`
	Label     string `json:"label"`
	Phase     string `json:"phase,omitempty"`
	URI       string `json:"uri,omitempty"`
	Type      string `json:"type,omitempty"`
	Output    string `json:"output,omitempty"`
	Index     int    `json:"index,omitempty"`
	Attempt   int32  `json:"attempt,omitempty"`
	// Origin marks the artifact the graph was asked for.
	Origin bool `json:"origin,omitempty"`
	// Importer marks a task that imported the artifact from elsewhere.
	Importer bool `json:"importer,omitempty"`
}

type lineageGraph struct {
	Nodes []lineageNode `json:"nodes"`
	// Edges go from producer to product: task → artifact it wrote,
	// artifact → task that read it.
	Edges [][2]string `json:"edges"`
	// Truncated says the graph was cut at its size limit.
	Truncated bool `json:"truncated,omitempty"`
}

// Bounds of a lineage graph.
const (
	maxLineageDepth = 10
	maxLineageNodes = 300
)

type lineageBuilder struct {
	s     *Server
	ctx   context.Context
	id    *Identity
	g     *lineageGraph
	seen  map[string]bool
	edges map[[2]string]bool
	views map[types.UID]*runView
	// inputs caches the resolved inputs of each run's task nodes.
	inputs map[types.UID][][]engine.Artifact
}

func taskID(v *runView, i int32) string { return "t:" + string(v.run.UID) + ":" + strconv.Itoa(int(i)) }
func artifactID(uri string) string      { return "a:" + uri }
func (b *lineageBuilder) full() bool    { return len(b.g.Nodes) >= maxLineageNodes }
func (b *lineageBuilder) edge(from, to string) {
	e := [2]string{from, to}
	if !b.edges[e] {
		b.edges[e] = true
		b.g.Edges = append(b.g.Edges, e)
	}
}

func (b *lineageBuilder) addTask(v *runView, i int32) string {
	id := taskID(v, i)
	if !b.seen[id] {
		b.seen[id] = true
		n := &v.state.Nodes[i]
		b.g.Nodes = append(b.g.Nodes, lineageNode{ID: id, Kind: "task", Namespace: v.run.Namespace, Run: v.run.Name, Node: i,
			Label: v.eng.Path(v.state, i), Phase: n.Phase.String(), Attempt: n.Attempt, Importer: kindOf(v.eng.Task(v.state, i)) == "importer"})
	}
	return id
}

func (b *lineageBuilder) addArtifact(v *runView, i int32, output string, index int, a engine.Artifact, origin bool) string {
	id := artifactID(a.URI)
	if !b.seen[id] {
		b.seen[id] = true
		b.g.Nodes = append(b.g.Nodes, lineageNode{ID: id, Kind: "artifact", Namespace: v.run.Namespace, Run: v.run.Name, Node: i,
			Label: output, URI: a.URI, Type: a.SchemaTitle, Output: output, Index: index, Origin: origin})
	}
	return id
}

// viewOf returns a run's view if the user may read the run.
func (b *lineageBuilder) viewOf(ns, name string, uid types.UID) *runView {
	if v, ok := b.views[uid]; ok {
		return v
	}
	var v *runView
	if b.s.mayQuietly(b.ctx, b.id, readRun(ns, name)) {
		if run, err := b.s.data.run(b.ctx, ns, name); err == nil && run.UID == uid {
			if rv := b.s.data.view(b.ctx, run); rv.state != nil && rv.eng != nil {
				v = rv
			}
		}
	}
	b.views[uid] = v
	return v
}

// upstream adds the task that wrote the artifact at uri in run v, its
// inputs, and their producers, recursively.
func (b *lineageBuilder) upstream(v *runView, uri string, depth int) {
	if depth > maxLineageDepth || b.full() {
		b.g.Truncated = b.g.Truncated || b.full()
		return
	}
	ref, ok := v.producers()[uri]
	if !ok {
		return
	}
	tid := b.addTask(v, ref.Node)
	b.edge(tid, artifactID(uri))
	if kindOf(v.eng.Task(v.state, ref.Node)) == "importer" {
		// Imported: the artifact came from the run that wrote it first.
		if src := b.firstWriter(uri, v.run.UID); src != nil {
			sref := src.producers()[uri]
			sa := src.state.Nodes[sref.Node].Artifacts[sref.Output][sref.Index]
			srcID := b.addArtifact(src, sref.Node, sref.Output, sref.Index, sa, false)
			if srcID != artifactID(uri) {
				b.edge(srcID, tid)
			}
			b.upstream(src, uri, depth+1)
		}
		return
	}
	_, arts, err := v.eng.Inputs(v.state, ref.Node)
	if err != nil {
		return
	}
	for _, name := range sortedKeys(arts) {
		for k, a := range arts[name] {
			if b.full() {
				b.g.Truncated = true
				return
			}
			aid := artifactID(a.URI)
			if !b.seen[aid] {
				pv := v
				if _, local := v.producers()[a.URI]; !local {
					pv = b.firstWriter(a.URI, "")
				}
				if pv == nil {
					b.seen[aid] = true
					b.g.Nodes = append(b.g.Nodes, lineageNode{ID: aid, Kind: "artifact", Label: name, URI: a.URI, Type: a.SchemaTitle, Output: name, Index: k})
				} else {
					pref := pv.producers()[a.URI]
					b.addArtifact(pv, pref.Node, pref.Output, pref.Index, a, false)
					b.upstream(pv, a.URI, depth+1)
				}
			}
			b.edge(aid, tid)
		}
	}
}

// firstWriter is the oldest run (other than except) the user may read
// whose container task wrote uri.
func (b *lineageBuilder) firstWriter(uri string, except types.UID) *runView {
	for _, ref := range b.s.data.lineage.refs(b.ctx, b.s.data, uri) {
		if ref.UID == except {
			continue
		}
		v := b.viewOf(ref.Namespace, ref.Run, ref.UID)
		if v == nil {
			continue
		}
		if p, ok := v.producers()[uri]; ok && v.eng.IsContainer(v.state, p.Node) {
			return v
		}
	}
	return nil
}

// downstream adds the tasks that read the artifact at uri in run v (and,
// through importers, in other runs), and what they wrote, recursively.
func (b *lineageBuilder) downstream(v *runView, uri string, depth int, crossRuns bool) {
	if depth > maxLineageDepth || b.full() {
		b.g.Truncated = b.g.Truncated || b.full()
		return
	}
	aid := artifactID(uri)
	for i, ins := range b.inputsOf(v) {
		if !slices.ContainsFunc(ins, func(a engine.Artifact) bool { return a.URI == uri }) {
			continue
		}
		if b.full() {
			b.g.Truncated = true
			return
		}
		tid := b.addTask(v, int32(i))
		b.edge(aid, tid)
		n := &v.state.Nodes[i]
		for _, out := range sortedKeys(n.Artifacts) {
			for k, a := range n.Artifacts[out] {
				if a.URI == uri {
					continue
				}
				oid := b.addArtifact(v, int32(i), out, k, a, false)
				b.edge(tid, oid)
				b.downstream(v, a.URI, depth+1, crossRuns)
			}
		}
	}
	if !crossRuns {
		return
	}
	// Runs that imported it.
	for _, ref := range b.s.data.lineage.refs(b.ctx, b.s.data, uri) {
		if ref.UID == v.run.UID {
			continue
		}
		ov := b.viewOf(ref.Namespace, ref.Run, ref.UID)
		if ov == nil {
			continue
		}
		p, ok := ov.producers()[uri]
		if !ok || kindOf(ov.eng.Task(ov.state, p.Node)) != "importer" {
			continue
		}
		tid := b.addTask(ov, p.Node)
		b.edge(aid, tid)
		b.downstream(ov, uri, depth+1, false)
	}
}

// inputsOf resolves, once per run, the input artifacts of every task that
// has started.
func (b *lineageBuilder) inputsOf(v *runView) [][]engine.Artifact {
	if in, ok := b.inputs[v.run.UID]; ok {
		return in
	}
	in := make([][]engine.Artifact, len(v.state.Nodes))
	for i := 1; i < len(v.state.Nodes); i++ {
		n := &v.state.Nodes[i]
		if n.Iter >= 0 || n.Phase == engine.Pending || n.Phase == engine.Skipped {
			continue
		}
		k := kindOf(v.eng.Task(v.state, int32(i)))
		if k != "container" {
			continue
		}
		_, arts, err := v.eng.Inputs(v.state, int32(i))
		if err != nil {
			continue
		}
		for _, list := range arts {
			in[i] = append(in[i], list...)
		}
	}
	b.inputs[v.run.UID] = in
	return in
}

// lineageOf answers the lineage of an output artifact of a task: the
// chain of tasks and artifacts that produced it and the tasks and runs
// that used it, limited to runs the user may read.
func (s *Server) lineageOf(w http.ResponseWriter, r *http.Request, id *Identity) {
	v, i, a, ok := s.artifactOf(w, r, id)
	if !ok {
		return
	}
	output := r.PathValue("output")
	index, _ := strconv.Atoi(r.PathValue("index"))
	b := &lineageBuilder{s: s, ctx: r.Context(), id: id, g: &lineageGraph{Nodes: []lineageNode{}, Edges: [][2]string{}},
		seen: map[string]bool{}, edges: map[[2]string]bool{}, views: map[types.UID]*runView{v.run.UID: v}, inputs: map[types.UID][][]engine.Artifact{}}
	b.addArtifact(v, i, output, index, a, true)
	b.upstream(v, a.URI, 0)
	b.downstream(v, a.URI, 0, true)
	writeJSON(w, b.g)
}
