package ui

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// CacheOptions are the UI's informer cache options: runs, pipelines and
// experiments without their managed fields; only task pods (labelled with
// their run's UID), kept slim (what the UI shows of them); namespaces by
// their metadata.
func CacheOptions() cache.Options {
	taskPods, err := labels.NewRequirement(v1alpha1.LabelRunUID, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.NewSelector().Add(*taskPods), Transform: slimPod},
		},
	}
}

// slimPod keeps what the UI shows of a task pod: its name, labels, node,
// phase and the main container's end.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	pod.Status.Conditions = nil
	statuses := pod.Status.ContainerStatuses
	pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses = nil, nil
	for _, cs := range statuses {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: cs.Name, State: corev1.ContainerState{Terminated: cs.State.Terminated, Waiting: cs.State.Waiting}})
	}
	for i := range pod.Status.ContainerStatuses {
		if t := pod.Status.ContainerStatuses[i].State.Terminated; t != nil {
			t = t.DeepCopy()
			t.Message = "" // the result, which the run's state holds
			pod.Status.ContainerStatuses[i].State.Terminated = t
		}
	}
	return pod, nil
}

// data reads the cache and derives what the pages show.
type data struct {
	cache cache.Cache
	// reader reads versions' content from their ConfigMaps (past the
	// cache, which holds no ConfigMaps).
	reader  client.Reader
	views   *viewCache
	plans   *planCache
	lineage *lineageIndex
	metrics *metricsCache
}

func newData(c cache.Cache, reader client.Reader) *data {
	return &data{cache: c, reader: reader, views: newViewCache(48), plans: &planCache{plans: map[string]*pipeline.Plan{}, contents: map[string]v1alpha1.PipelineSpec{}}, lineage: newLineageIndex(), metrics: &metricsCache{items: map[string]runMetrics{}}}
}

// parseNumber reads a JSON-encoded number (a run's output parameter).
func parseNumber(s string) (float64, bool) {
	var f float64
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return 0, false
	}
	return f, true
}

// errNotFound answers 404.
type errNotFound struct{ what string }

func (e *errNotFound) Error() string { return e.what }

// httpError writes err with its status: 404 for what does not exist, 500
// for the rest.
func httpError(w http.ResponseWriter, err error) {
	var nf *errNotFound
	if errors.As(err, &nf) {
		writeError(w, http.StatusNotFound, "%s", nf.what)
		return
	}
	writeError(w, http.StatusInternalServerError, "%v", err)
}

func (d *data) run(ctx context.Context, ns, name string) (*v1alpha1.PipelineRun, error) {
	run := &v1alpha1.PipelineRun{}
	if err := d.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, run, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &errNotFound{fmt.Sprintf("run %s does not exist in namespace %s", name, ns)}
		}
		return nil, fmt.Errorf("reading run %s/%s: %w", ns, name, err)
	}
	return run, nil
}

func (d *data) pipeline(ctx context.Context, ns, name string) (*v1alpha1.Pipeline, error) {
	p := &v1alpha1.Pipeline{}
	if err := d.cache.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, p, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &errNotFound{fmt.Sprintf("pipeline %s does not exist in namespace %s", name, ns)}
		}
		return nil, fmt.Errorf("reading pipeline %s/%s: %w", ns, name, err)
	}
	return p, nil
}

// namespaceExists tells a namespace that does not exist (404) from one
// without runs.
func (d *data) namespaceExists(ctx context.Context, ns string) (bool, error) {
	obj := &corev1.Namespace{}
	err := d.cache.Get(ctx, types.NamespacedName{Name: ns}, obj, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// planCache keeps compiled plans by content hash (immutable content).
type planCache struct {
	mu       sync.Mutex
	plans    map[string]*pipeline.Plan
	contents map[string]v1alpha1.PipelineSpec
}

const maxPlans = 128

func (c *planCache) get(hash string, content func() (v1alpha1.PipelineSpec, error)) (*pipeline.Plan, error) {
	c.mu.Lock()
	p, ok := c.plans[hash]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	spec, err := c.content(hash, content)
	if err != nil {
		return nil, err
	}
	p, err = validation.CompileContent(spec.Spec, spec.DAG)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.plans) >= maxPlans {
		clear(c.plans)
	}
	c.plans[hash] = p
	c.mu.Unlock()
	return p, nil
}

// content returns a version's content by its hash, reading it with read
// (its ConfigMap) the first time.
func (c *planCache) content(hash string, read func() (v1alpha1.PipelineSpec, error)) (v1alpha1.PipelineSpec, error) {
	c.mu.Lock()
	spec, ok := c.contents[hash]
	c.mu.Unlock()
	if ok {
		return spec, nil
	}
	spec, err := read()
	if err != nil {
		return spec, err
	}
	c.mu.Lock()
	if len(c.contents) >= maxPlans {
		clear(c.contents)
	}
	c.contents[hash] = spec
	c.mu.Unlock()
	return spec, nil
}

func (d *data) planOf(ctx context.Context, p *v1alpha1.Pipeline, n int32) (*pipeline.Plan, *v1alpha1.PipelineVersion, error) {
	v := p.Status.Version(n)
	if v == nil {
		return nil, nil, &errNotFound{fmt.Sprintf("pipeline %s keeps no version %d", p.Name, n)}
	}
	plan, err := d.plans.get(v.ContentHash, d.reading(ctx, p.Namespace, v.ConfigMap, v.ContentHash))
	if err != nil {
		return nil, v, fmt.Errorf("version %d of pipeline %s does not compile: %w", n, p.Name, err)
	}
	return plan, v, nil
}

// reading reads the content of a version's ConfigMap, checked against
// its hash.
func (d *data) reading(ctx context.Context, ns, configMap, hash string) func() (v1alpha1.PipelineSpec, error) {
	return func() (v1alpha1.PipelineSpec, error) {
		return versions.Read(ctx, d.reader, ns, configMap, hash)
	}
}

// contentOf is a version's content (its ConfigMap, read once).
func (d *data) contentOf(ctx context.Context, ns string, v *v1alpha1.PipelineVersion) (v1alpha1.PipelineSpec, error) {
	return d.plans.content(v.ContentHash, d.reading(ctx, ns, v.ConfigMap, v.ContentHash))
}

// runView is a run with its compiled plan and decoded state, and what the
// pages derive from them; built once per resourceVersion.
type runView struct {
	run   *v1alpha1.PipelineRun
	plan  *pipeline.Plan
	eng   *engine.Engine
	state *engine.State
	// note says why there is no graph (the version is no longer kept).
	note string
	// counts are, for each node, its container descendants by phase.
	counts [][8]int32

	producersOnce sync.Once
	producerMap   map[string]artifactRefJSON
}

// view returns the run's view.
func (d *data) view(ctx context.Context, run *v1alpha1.PipelineRun) *runView {
	key := string(run.UID) + "/" + run.ResourceVersion
	if v, ok := d.views.get(key); ok {
		return v
	}
	v := &runView{run: run}
	if run.Status.PipelineVersion == 0 {
		v.note = "the run has not resolved its pipeline version yet: " + run.Status.Message
	} else if run.Status.VersionConfigMap != "" {
		// The run's own version, kept until the run ends even when the
		// pipeline no longer keeps it.
		if plan, err := d.plans.get(run.Status.ContentHash, d.reading(ctx, run.Namespace, run.Status.VersionConfigMap, run.Status.ContentHash)); err != nil {
			v.note = fmt.Sprintf("the graph cannot be drawn: version %d: %v", run.Status.PipelineVersion, err)
		} else {
			v.plan = plan
			v.eng = engine.New(plan, engine.Options{})
		}
	} else if p, err := d.pipeline(ctx, run.Namespace, run.Spec.Pipeline); err != nil {
		v.note = fmt.Sprintf("the graph cannot be drawn: %v", err)
	} else if pv := p.Status.Version(run.Status.PipelineVersion); pv == nil || pv.ContentHash != run.Status.ContentHash {
		v.note = fmt.Sprintf("the graph cannot be drawn: pipeline %s no longer keeps version %d", p.Name, run.Status.PipelineVersion)
	} else if plan, _, err := d.planOf(ctx, p, run.Status.PipelineVersion); err != nil {
		v.note = err.Error()
	} else {
		v.plan = plan
		v.eng = engine.New(plan, engine.Options{})
	}
	if st := run.Status.State; st != nil && len(st.Raw) > 0 {
		s := &engine.State{}
		if err := json.Unmarshal(st.Raw, s); err != nil {
			v.note = fmt.Sprintf("the run's state cannot be read: %v", err)
		} else {
			v.state = s
		}
	}
	if v.state != nil && v.eng != nil {
		v.counts = make([][8]int32, len(v.state.Nodes))
		for i := len(v.state.Nodes) - 1; i > 0; i-- {
			n := &v.state.Nodes[i]
			if v.eng.IsContainer(v.state, int32(i)) {
				v.counts[i][n.Phase]++
			}
			for p := range v.counts[i] {
				v.counts[n.Parent][p] += v.counts[i][p]
			}
		}
	}
	d.views.put(key, v)
	return v
}

// viewCache is a small LRU of run views.
type viewCache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

type viewEntry struct {
	key string
	v   *runView
}

func newViewCache(maxViews int) *viewCache {
	return &viewCache{max: maxViews, order: list.New(), items: map[string]*list.Element{}}
}

func (c *viewCache) get(key string) (*runView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*viewEntry).v, true
	}
	return nil, false
}

func (c *viewCache) put(key string, v *runView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = c.order.PushFront(&viewEntry{key: key, v: v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*viewEntry).key)
	}
}
