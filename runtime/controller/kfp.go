package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// Event reasons of what the runtime reports about KFP tasks.
const (
	// ReasonTaskNote carries a note of the launcher or the executor: which
	// kfp a Python component ran with, settings the local executor could
	// not honour, PVCs a task made.
	ReasonTaskNote = "TaskNote"
)

// badTaskPod is a task whose settings can make no pod; its attempt fails.
type badTaskPod struct{ err error }

func (b *badTaskPod) Error() string { return b.err.Error() }
func (b *badTaskPod) Unwrap() error { return b.err }

// pvcTask performs a kfp-kubernetes CreatePVC or DeletePVC task in the
// run's namespace and returns its result. A claim this run created before
// (a step redone after a restart) counts as created.
func (r *PipelineRunReconciler) pvcTask(ctx context.Context, run *v1alpha1.PipelineRun, a engine.Action) engine.Event {
	ev := engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt}
	req, err := launcher.NewPVCRequest(a.Task)
	if err != nil {
		ev.Message = err.Error()
		return ev
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: run.Namespace}}
	if a.Task.Component.Executor.Kind == "deletepvc" {
		if err := r.Delete(ctx, pvc); err != nil && !apierrors.IsNotFound(err) {
			ev.Message = fmt.Sprintf("deleting PersistentVolumeClaim %s: %v", req.Name, err)
			return ev
		}
		ev.Succeeded, ev.Notes = true, []string{"deleted PersistentVolumeClaim " + req.Name}
		return ev
	}
	size, err := resource.ParseQuantity(req.Size)
	if err != nil {
		ev.Message = fmt.Sprintf("CreatePVC: size %q is not a quantity", req.Size)
		return ev
	}
	pvc.Labels = map[string]string{v1alpha1.LabelRunUID: string(run.UID)}
	pvc.Annotations = req.Annotations
	pvc.Spec = corev1.PersistentVolumeClaimSpec{
		Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		StorageClassName: req.StorageClassName, VolumeName: req.VolumeName,
	}
	for _, m := range req.AccessModes {
		pvc.Spec.AccessModes = append(pvc.Spec.AccessModes, corev1.PersistentVolumeAccessMode(m))
	}
	if ds := req.DataSource; ds != nil {
		ref := &corev1.TypedLocalObjectReference{Kind: ds["kind"], Name: ds["name"]}
		if g := ds["apiGroup"]; g != "" {
			ref.APIGroup = &g
		}
		pvc.Spec.DataSource = ref
	}
	if err := r.Create(ctx, pvc); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			ev.Message = fmt.Sprintf("creating PersistentVolumeClaim %s: %v", req.Name, err)
			return ev
		}
		cur := &corev1.PersistentVolumeClaim{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pvc), cur); err != nil {
			ev.Message = fmt.Sprintf("reading PersistentVolumeClaim %s: %v", req.Name, err)
			return ev
		}
		if cur.Labels[v1alpha1.LabelRunUID] != string(run.UID) {
			ev.Message = fmt.Sprintf("PersistentVolumeClaim %s exists already and was not created by this run", req.Name)
			return ev
		}
	}
	ev.Succeeded, ev.Params = true, map[string]any{"name": req.Name}
	ev.Notes = []string{"created PersistentVolumeClaim " + req.Name}
	return ev
}

// ensureWorkspace creates the run's workspace PVC (pipelineConfig.workspace)
// before its first task pod; the run owns it, so it goes with the run.
func (r *PipelineRunReconciler) ensureWorkspace(ctx context.Context, s *runStep) error {
	ws := s.eng.Plan().Workspace
	if ws == nil {
		return nil
	}
	key := client.ObjectKeyFromObject(s.run)
	if uid, done := r.workspaces.Load(key); done && uid == s.run.UID {
		return nil
	}
	spec := map[string]any{
		"accessModes": []any{"ReadWriteOnce"},
		"resources":   map[string]any{"requests": map[string]any{"storage": ws.Size}},
	}
	if ws.Kubernetes != nil {
		for k, v := range ws.Kubernetes.PVCSpecPatch {
			spec[k] = v
		}
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{
		Name: workspaceClaimName(s.run.Name), Namespace: s.run.Namespace,
		Labels:          map[string]string{v1alpha1.LabelRunUID: string(s.run.UID)},
		OwnerReferences: []metav1.OwnerReference{runOwner(s.run)},
	}}
	if err := strictJSON(spec, &pvc.Spec); err != nil {
		return &badTaskPod{fmt.Errorf("workspace: pvcSpecPatch does not make a PVC spec: %w", err)}
	}
	if err := r.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the run's workspace PersistentVolumeClaim %s: %w", pvc.Name, err)
	} else if err != nil {
		cur := &corev1.PersistentVolumeClaim{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pvc), cur); err != nil {
			return fmt.Errorf("reading the run's workspace PersistentVolumeClaim %s: %w", pvc.Name, err)
		}
		if !metav1.IsControlledBy(cur, s.run) {
			return &badTaskPod{fmt.Errorf("workspace: PersistentVolumeClaim %s exists already and is not this run's", pvc.Name)}
		}
	}
	r.workspaces.Store(key, s.run.UID)
	return nil
}

// addWorkspace mounts the run's workspace in a task pod.
func addWorkspace(pod *corev1.Pod, claim string) {
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: workspaceVolume, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	main := mainContainerOf(&pod.Spec)
	main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: workspaceVolume, MountPath: WorkspaceMountPath})
}

func runOwner(run *v1alpha1.PipelineRun) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "PipelineRun", Name: run.Name, UID: run.UID, Controller: &t, BlockOwnerDeletion: &t}
}

// noteLog remembers which notes a run has reported, so that a note shared
// by many tasks (the kfp Python components ran with) is one event.
type noteLog struct {
	mu   sync.Mutex
	seen map[types.NamespacedName]*runNotes
}

type runNotes struct {
	uid  types.UID
	seen map[string]bool
}

// reportNotes emits each new note of a task as a Normal event on its run.
func (r *PipelineRunReconciler) reportNotes(run *v1alpha1.PipelineRun, task string, notes []string) {
	if len(notes) == 0 {
		return
	}
	r.notes.mu.Lock()
	defer r.notes.mu.Unlock()
	if r.notes.seen == nil {
		r.notes.seen = map[types.NamespacedName]*runNotes{}
	}
	key := client.ObjectKeyFromObject(run)
	rn := r.notes.seen[key]
	if rn == nil || rn.uid != run.UID {
		rn = &runNotes{uid: run.UID, seen: map[string]bool{}}
		r.notes.seen[key] = rn
	}
	seen := rn.seen
	for _, n := range notes {
		// Notes that name a claim are per task; the others are shared.
		key := n
		if strings.Contains(n, "PersistentVolumeClaim") {
			key = task + ": " + n
		}
		if seen[key] || len(seen) >= 50 {
			continue
		}
		seen[key] = true
		r.Recorder.Eventf(run, nil, corev1.EventTypeNormal, ReasonTaskNote, "Running", "task %s: %s", task, truncate(n, 900))
	}
}

// forgetKFP drops what the controller remembers of a run's notes and
// workspace.
func (r *PipelineRunReconciler) forgetKFP(name types.NamespacedName) {
	r.notes.mu.Lock()
	defer r.notes.mu.Unlock()
	delete(r.notes.seen, name)
	r.workspaces.Delete(name)
}

// metricsTypes are the artifact types whose values are their metadata.
var metricsTypes = map[string]bool{"system.Metrics": true, "system.ClassificationMetrics": true, "system.SlicedClassificationMetrics": true}

// runMetrics collects the metrics artifacts of the run's tasks, in node
// order, at most v1alpha1.MaxRunMetrics; it returns how many were left out.
func runMetrics(eng *engine.Engine, s *engine.State) ([]v1alpha1.TaskMetrics, int32) {
	var out []v1alpha1.TaskMetrics
	var omitted int32
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if n.Phase != engine.Succeeded || !eng.IsContainer(s, int32(i)) {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(n.Artifacts)) {
			for _, a := range n.Artifacts[name] {
				if !metricsTypes[a.SchemaTitle] {
					continue
				}
				if len(out) >= v1alpha1.MaxRunMetrics {
					omitted++
					continue
				}
				m := v1alpha1.TaskMetrics{Task: eng.Path(s, int32(i)), Output: name, Type: a.SchemaTitle, URI: a.URI}
				if len(a.Metadata) > 0 {
					if b, err := json.Marshal(a.Metadata); err == nil && len(b) <= 16<<10 {
						m.Values = &runtime.RawExtension{Raw: b}
					}
				}
				out = append(out, m)
			}
		}
	}
	return out, omitted
}
