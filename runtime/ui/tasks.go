package ui

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// artifactJSON is an artifact a task read or wrote.
type artifactJSON struct {
	Name     string         `json:"name"`
	Index    int            `json:"index"`
	URI      string         `json:"uri"`
	Type     string         `json:"type,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Producer is the task that wrote it (for inputs), in this run or
	// another the user may read.
	Producer *artifactRefJSON `json:"producer,omitempty"`
	// Preview says how the page shows it: metrics, classification,
	// markdown, html, text; "" when the UI may not read it.
	Preview string `json:"preview,omitempty"`
	// Unreadable says why the UI does not show its content.
	Unreadable string `json:"unreadable,omitempty"`
}

// artifactRefJSON names an output artifact of a task of a run.
type artifactRefJSON struct {
	Namespace string `json:"namespace"`
	Run       string `json:"run"`
	Node      int32  `json:"node"`
	Task      string `json:"task"`
	Attempt   int32  `json:"attempt,omitempty"`
	Output    string `json:"output"`
	Index     int    `json:"index"`
}

type valuesJSON struct {
	Parameters map[string]any `json:"parameters,omitempty"`
	Artifacts  []artifactJSON `json:"artifacts,omitempty"`
}

// attemptJSON is one attempt of a container task: its pod (while it
// exists) and what the launcher recorded of it.
type attemptJSON struct {
	Number   int32  `json:"number"`
	Pod      string `json:"pod,omitempty"`
	Node     string `json:"node,omitempty"`
	PodPhase string `json:"podPhase,omitempty"`
	// From the launcher's record, once the attempt ended.
	Start     *time.Time `json:"start,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	Succeeded *bool      `json:"succeeded,omitempty"`
	ExitCode  *int       `json:"exitCode,omitempty"`
	Error     string     `json:"error,omitempty"`
	LogBytes  int64      `json:"logBytes,omitempty"`
	Truncated bool       `json:"logTruncated,omitempty"`
	// Logs says whether the UI can show its log.
	Logs bool `json:"logs"`
}

type taskDetail struct {
	nodeJSON
	Inputs      valuesJSON    `json:"inputs"`
	Outputs     valuesJSON    `json:"outputs"`
	AttemptList []attemptJSON `json:"attemptList,omitempty"`
	InputsError string        `json:"inputsError,omitempty"`
	Retries     int           `json:"retries,omitempty"`
	Timeout     string        `json:"timeout,omitempty"`
	Caching     bool          `json:"caching"`
	// LogsAllowed says whether the user may read logs (pods/log).
	LogsAllowed bool `json:"logsAllowed"`
}

// taskOf resolves the {node} of a task URL in the run's view.
func (s *Server) taskOf(w http.ResponseWriter, r *http.Request, id *Identity, extra ...access) (*runView, int32, bool) {
	ns, name := r.PathValue("ns"), r.PathValue("run")
	if !s.may(w, r, id, readRun(ns, name)) {
		return nil, 0, false
	}
	for _, q := range extra {
		if !s.may(w, r, id, q) {
			return nil, 0, false
		}
	}
	node, err := strconv.Atoi(r.PathValue("node"))
	if err != nil || node < 0 {
		writeError(w, http.StatusBadRequest, "node: %q is not a node number", r.PathValue("node"))
		return nil, 0, false
	}
	run, err := s.data.run(r.Context(), ns, name)
	if err != nil {
		httpError(w, err)
		return nil, 0, false
	}
	v := s.data.view(r.Context(), run)
	if v.state == nil || v.eng == nil {
		msg := v.note
		if msg == "" {
			msg = "the run has not started"
		}
		writeError(w, http.StatusNotFound, "run %s has no node %d: %s", name, node, msg)
		return nil, 0, false
	}
	if node == 0 || node >= len(v.state.Nodes) {
		writeError(w, http.StatusNotFound, "run %s has no task node %d (it has nodes 1 to %d)", name, node, len(v.state.Nodes)-1)
		return nil, 0, false
	}
	return v, int32(node), true
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	v, i, ok := s.taskOf(w, r, id)
	if !ok {
		return
	}
	ctx := r.Context()
	ns := v.run.Namespace
	d := taskDetail{nodeJSON: v.node(i), LogsAllowed: s.mayQuietly(ctx, id, readLogs(ns))}
	n := &v.state.Nodes[i]
	if t := v.eng.Task(v.state, i); t != nil && n.Iter < 0 {
		d.Retries, d.Caching = t.Retry.MaxRetries, t.Cache
		if t.Timeout > 0 {
			d.Timeout = t.Timeout.String()
		}
	}
	if n.Phase != engine.Pending && n.Phase != engine.Skipped || n.Iter >= 0 {
		params, arts, err := v.eng.Inputs(v.state, i)
		if err != nil {
			d.InputsError = err.Error()
		}
		d.Inputs.Parameters = params
		for _, name := range sortedKeys(arts) {
			for k, a := range arts[name] {
				aj := s.artifactJSON(ctx, v, name, k, a)
				aj.Producer = s.producerOf(ctx, id, v, a.URI)
				d.Inputs.Artifacts = append(d.Inputs.Artifacts, aj)
			}
		}
	}
	d.Outputs.Parameters = n.Params
	for _, name := range sortedKeys(n.Artifacts) {
		for k, a := range n.Artifacts[name] {
			d.Outputs.Artifacts = append(d.Outputs.Artifacts, s.artifactJSON(ctx, v, name, k, a))
		}
	}
	if d.Kind == "container" {
		d.AttemptList = s.attempts(ctx, v, i)
	}
	writeJSON(w, d)
}

func (s *Server) artifactJSON(ctx context.Context, v *runView, name string, index int, a engine.Artifact) artifactJSON {
	aj := artifactJSON{Name: name, Index: index, URI: a.URI, Type: a.SchemaTitle, Metadata: a.Metadata}
	if err := s.readableURI(v, a.URI); err != nil {
		aj.Unreadable = err.Error()
	}
	aj.Preview = previewKind(a)
	_ = ctx
	return aj
}

// producerOf names the task that wrote uri: in the same run, or (through
// the lineage index) in another run the user may read.
func (s *Server) producerOf(ctx context.Context, id *Identity, v *runView, uri string) *artifactRefJSON {
	if ref, ok := v.producers()[uri]; ok {
		return &ref
	}
	for _, ref := range s.data.lineage.refs(ctx, s.data, uri) {
		if ref.UID == v.run.UID || !s.mayQuietly(ctx, id, readRun(ref.Namespace, ref.Run)) {
			continue
		}
		other, err := s.data.run(ctx, ref.Namespace, ref.Run)
		if err != nil || other.UID != ref.UID {
			continue
		}
		ov := s.data.view(ctx, other)
		if p, ok := ov.producers()[uri]; ok && ov.eng.IsContainer(ov.state, p.Node) {
			return &p
		}
	}
	return nil
}

// attempts lists a container task's attempts: pods from the cache, and
// the launcher's records from the store.
func (s *Server) attempts(ctx context.Context, v *runView, i int32) []attemptJSON {
	n := &v.state.Nodes[i]
	pods := &corev1.PodList{}
	_ = s.data.cache.List(ctx, pods, client.InNamespace(v.run.Namespace), client.MatchingLabels{
		v1alpha1.LabelRunUID: string(v.run.UID), v1alpha1.LabelNode: strconv.Itoa(int(i)),
	})
	store, storeErr := s.storeOf(ctx, v)
	var out []attemptJSON
	for a := int32(1); a <= n.Attempt; a++ {
		at := attemptJSON{Number: a, Logs: storeErr == nil && !n.Cached}
		for _, p := range pods.Items {
			if p.Labels[v1alpha1.LabelAttempt] == strconv.Itoa(int(a)) {
				at.Pod, at.Node, at.PodPhase = p.Name, p.Spec.NodeName, string(p.Status.Phase)
			}
		}
		if storeErr == nil {
			if rec, err := launcher.ReadRecord(ctx, store, launcher.AttemptDirOf(v.plan.Name, engine.RunDir(v.state.RunID, v.state.RunUID), v.eng.Path(v.state, i), a)); err == nil {
				start, end, ok, code := rec.Start, rec.End, rec.Succeeded, rec.ExitCode
				at.Start, at.End, at.Succeeded, at.ExitCode, at.Error = &start, &end, &ok, &code, rec.Error
				at.LogBytes, at.Truncated = rec.LogBytes, rec.LogTruncated
			}
		}
		out = append(out, at)
	}
	slices.Reverse(out) // the newest first
	return out
}

// producers maps the URIs of the run's output artifacts to the task that
// wrote them: the deepest node with the URI (a DAG's or loop's outputs
// repeat its tasks' outputs, and children come after their parents).
func (v *runView) producers() map[string]artifactRefJSON {
	v.producersOnce.Do(func() {
		v.producerMap = map[string]artifactRefJSON{}
		if v.state == nil || v.eng == nil {
			return
		}
		for i := range v.state.Nodes {
			n := &v.state.Nodes[i]
			if i == 0 || len(n.Artifacts) == 0 || !v.eng.IsContainer(v.state, int32(i)) && kindOf(v.eng.Task(v.state, int32(i))) != "importer" {
				continue
			}
			for name, list := range n.Artifacts {
				for k, a := range list {
					v.producerMap[a.URI] = artifactRefJSON{Namespace: v.run.Namespace, Run: v.run.Name, Node: int32(i), Task: v.eng.Path(v.state, int32(i)), Attempt: n.Attempt, Output: name, Index: k}
				}
			}
		}
	})
	return v.producerMap
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// storeOf opens the run's pipeline root, if the UI may read it.
func (s *Server) storeOf(ctx context.Context, v *runView) (*launcher.Store, error) {
	root, err := s.rootOf(v.run)
	if err != nil {
		return nil, err
	}
	if v.plan == nil || v.state == nil {
		return nil, fmt.Errorf("the run has no artifacts yet")
	}
	st, err := s.stores.open(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("opening the run's pipeline root: %w", err)
	}
	return st, nil
}
