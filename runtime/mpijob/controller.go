// Package mpijob is the runtime's MPIJob controller (kubeflow.org/v2beta1,
// the API of kubeflow/mpi-operator): per job a headless Service, a
// ConfigMap with the hostfile and discover_hosts.sh, an SSH key Secret,
// the worker pods, the launcher Job and, with a gang scheduler, a
// PodGroup, all as mpi-operator makes them, so that its manifests, images,
// Kueue and Volcano keep working. It fixes mpi-operator's known problems:
// pods stay out of Istio's mesh, WaitForWorkersReady waits for the
// workers' sshd to answer, a suspended job never gets a launcher, a
// failed worker fails or restarts the job per its restart policy with the
// worker's name, exit reason and last log lines in the condition, and
// log tails are kept before cleanPodPolicy deletes pods.
package mpijob

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	runtimecontroller "github.com/kfstack/terraform-provider-kubeflow/runtime/controller"
)

// Options configure the MPIJob controller.
type Options struct {
	// MaxConcurrentReconciles is how many jobs are reconciled at once.
	MaxConcurrentReconciles int
	// GangScheduler, when set, makes a PodGroup per job for Volcano
	// ("volcano") or scheduler-plugins (its scheduler's name).
	GangScheduler string
	// ImageRules and PodDefaults are the runtime's rules for task pods,
	// applied to launcher and worker pods too: images rewritten for
	// mirrors or local images, the operator's node selector,
	// tolerations, volumes, pull policy, labels and annotations.
	ImageRules  imagerewrite.Rules
	PodDefaults runtimecontroller.TaskPodDefaults
	// ProbeSSH checks that an SSH server answers at host on one of
	// ports (WaitForWorkersReady); DialSSH when nil. Tests on simulated
	// nodes, whose pod IPs lead nowhere, replace it.
	ProbeSSH func(ctx context.Context, host string, ports []int32) error
	// LogTail returns the last lines of a pod's main container, for
	// failure messages and before cleanPodPolicy deletes pods; nil reads
	// them through the API server.
	LogTail func(ctx context.Context, namespace, pod string) (string, error)
	// LogTailLines is how many lines LogTail keeps (default 20).
	LogTailLines int64
}

// Reconciler drives MPIJobs.
type Reconciler struct {
	client.Client
	// APIReader reads past the cache (objects made by someone else that
	// the cache's label selector leaves out).
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options
	gang      gang
	now       func() time.Time
	// deleted remembers the pods this controller deleted (by UID) until
	// the cache shows them going: a reconcile on a cache that lags must
	// not delete them again.
	deleted sync.Map
}

// deletePod deletes a pod once: a pod deleted in the last minute is not
// deleted again.
func (r *Reconciler) deletePod(ctx context.Context, p *corev1.Pod, opts ...client.DeleteOption) error {
	if at, ok := r.deleted.Load(p.UID); ok && time.Since(at.(time.Time)) < time.Minute {
		return nil
	}
	if err := r.Delete(ctx, p, opts...); client.IgnoreNotFound(err) != nil {
		return err
	}
	r.deleted.Store(p.UID, time.Now())
	r.forgetDeleted()
	return nil
}

// forgetDeleted drops what deletePod remembered over a minute ago.
func (r *Reconciler) forgetDeleted() {
	r.deleted.Range(func(k, v any) bool {
		if time.Since(v.(time.Time)) > time.Minute {
			r.deleted.Delete(k)
		}
		return true
	})
}

// cacheSelector selects, in the manager's cache, the Services,
// ConfigMaps and Jobs that MPIJobs make: the controller never holds the
// cluster's other ones.
var cacheSelector = labels.SelectorFromSet(labels.Set{kubeflow.OperatorNameLabel: kubeflow.OperatorName})

// CacheOptions adds to opts what the MPIJob controller needs of the
// manager's cache: only its own Services, ConfigMaps and Jobs.
func CacheOptions(opts cache.Options) cache.Options {
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.ConfigMap{}, &batchv1.Job{}} {
		opts.ByObject[obj] = cache.ByObject{Label: cacheSelector}
	}
	return opts
}

// Setup registers the MPIJob controller with mgr. The MPIJob CRD must be
// served.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = 8
	}
	if opts.LogTailLines <= 0 {
		opts.LogTailLines = 20
	}
	if opts.ProbeSSH == nil {
		opts.ProbeSSH = DialSSH
	}
	if opts.LogTail == nil {
		cs, err := kubernetes.NewForConfig(mgr.GetConfig())
		if err != nil {
			return fmt.Errorf("creating a client for pod logs: %w", err)
		}
		opts.LogTail = apiLogTail(cs, opts.LogTailLines)
	}
	if err := opts.ImageRules.Validate(); err != nil {
		return fmt.Errorf("image rules: %w", err)
	}
	r := &Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder("mpi-job-controller"),
		Options:  opts, gang: gang{scheduler: opts.GangScheduler}, now: time.Now,
	}
	return r.SetupWithManager(mgr)
}

// SetupWithManager watches MPIJobs, the Jobs, Services and ConfigMaps
// they control, their pods (workers directly, the launcher's through its
// Job, both by their labels) and, with a gang scheduler, PodGroups.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	podChanged := predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return true },
		DeleteFunc: func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*corev1.Pod), e.ObjectNew.(*corev1.Pod)
			return o.Status.Phase != n.Status.Phase || podReady(o) != podReady(n) || o.Status.PodIP != n.Status.PodIP ||
				(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
		},
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("mpijob").
		For(&kubeflow.MPIJob{}).
		Owns(&batchv1.Job{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(jobOfPod), builder.WithPredicates(podChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.MaxConcurrentReconciles})
	if r.gang.enabled() {
		pg := &unstructured.Unstructured{}
		pg.SetGroupVersionKind(r.gang.kind())
		b = b.Owns(pg)
	}
	return b.Complete(r)
}

// jobOfPod maps a launcher or worker pod to its MPIJob by its labels.
func jobOfPod(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[kubeflow.OperatorNameLabel] != kubeflow.OperatorName || l[kubeflow.JobNameLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: l[kubeflow.JobNameLabel]}}}
}

// +kubebuilder:rbac:groups=kubeflow.org,resources=mpijobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=kubeflow.org,resources=mpijobs/status,verbs=update
// +kubebuilder:rbac:groups=kubeflow.org,resources=mpijobs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one job's objects and status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cached := &kubeflow.MPIJob{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if cached.ManagedElsewhere() || cached.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	job := cached.DeepCopy()
	kubeflow.SetDefaults(job)
	res, err := r.reconcile(ctx, job)
	if !equality.Semantic.DeepEqual(cached.Status, job.Status) {
		update := cached.DeepCopy()
		update.Status = job.Status
		if uerr := r.Status().Update(ctx, update); uerr != nil {
			if apierrors.IsConflict(uerr) {
				return reconcile.Result{RequeueAfter: 10 * time.Millisecond}, nil
			}
			return reconcile.Result{}, errors.Join(err, fmt.Errorf("updating the status: %w", uerr))
		}
	}
	return res, err
}

// reconcile runs the phases of one job; the caller writes its status.
func (r *Reconciler) reconcile(ctx context.Context, job *kubeflow.MPIJob) (reconcile.Result, error) {
	now := metav1.NewTime(r.now())
	if job.Status.Finished() {
		return reconcile.Result{}, r.cleanUp(ctx, job)
	}
	if errs := kubeflow.Validate(job); len(errs) > 0 {
		msg := truncate("the job cannot run: "+errs.ToAggregate().Error(), maxMessage)
		r.event(job, corev1.EventTypeWarning, kubeflow.ReasonInvalid, msg)
		setCondition(&job.Status, kubeflow.JobFailed, corev1.ConditionTrue, kubeflow.ReasonInvalid, msg, now)
		job.Status.CompletionTime = &now
		return reconcile.Result{}, nil
	}
	if err := r.ensureService(ctx, job); err != nil {
		return reconcile.Result{}, err
	}
	if len(job.Status.Conditions) == 0 {
		// The SSH keys are made once, before the job counts as created;
		// the controller never reads Secrets.
		if err := r.createSecret(ctx, job); err != nil {
			return reconcile.Result{}, err
		}
		msg := fmt.Sprintf("MPIJob %s/%s is created.", job.Namespace, job.Name)
		setCondition(&job.Status, kubeflow.JobCreated, corev1.ConditionTrue, kubeflow.ReasonCreated, msg, now)
		r.event(job, corev1.EventTypeNormal, kubeflow.ReasonCreated, msg)
	}
	suspended := job.Suspended()
	if job.Status.StartTime == nil && !suspended {
		job.Status.StartTime = &now
	}
	launcher, err := r.launcherJob(ctx, job)
	if err != nil {
		return reconcile.Result{}, err
	}
	var workers []*corev1.Pod
	var result reconcile.Result
	if launcher == nil || !jobFinished(launcher) {
		if workers, err = r.workerPods(ctx, job); err != nil {
			return reconcile.Result{}, err
		}
		if err := r.ensureConfigMap(ctx, job, workers); err != nil {
			return reconcile.Result{}, err
		}
		if !suspended {
			if err := r.ensurePodGroup(ctx, job); err != nil {
				return reconcile.Result{}, err
			}
			if workers, err = r.ensureWorkers(ctx, job, workers); err != nil {
				return reconcile.Result{}, err
			}
			if failed, err := r.handleWorkerFailures(ctx, job, launcher, workers); failed || err != nil {
				return reconcile.Result{}, err
			}
			if launcher == nil {
				if launcher, result, err = r.startLauncher(ctx, job, workers); err != nil {
					return reconcile.Result{}, err
				}
			}
		}
	}
	if launcher != nil && suspended != ptrBool(launcher.Spec.Suspend) {
		if err := r.alignSuspension(ctx, job, launcher, suspended); err != nil {
			return reconcile.Result{}, err
		}
	}
	if suspended {
		if err := r.deleteWorkers(ctx, job, workers, true); err != nil {
			return reconcile.Result{}, err
		}
		workers = nil
		if err := r.deletePodGroup(ctx, job); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.updateStatus(ctx, job, launcher, workers, now); err != nil {
		return reconcile.Result{}, err
	}
	if job.Status.Finished() {
		return reconcile.Result{}, r.cleanUp(ctx, job)
	}
	return result, nil
}

func ptrBool(b *bool) bool { return b != nil && *b }

func (r *Reconciler) event(job *kubeflow.MPIJob, eventType, reason, msg string) {
	r.Recorder.Eventf(job, nil, eventType, reason, "Reconcile", "%s", truncate(msg, maxEventMessage))
}

// notControlled reports an object of the job's name that the job does not
// control (upstream's ErrResourceExists): the controller never adopts it.
func (r *Reconciler) notControlled(job *kubeflow.MPIJob, kind, name string) error {
	msg := fmt.Sprintf("%s %q already exists and is not managed by MPIJob %s", kind, name, job.Name)
	r.event(job, corev1.EventTypeWarning, "ErrResourceExists", msg)
	return errors.New(msg)
}

// getOwned reads an object the job makes: from the cache, else (one the
// cache's selector leaves out, made by another controller such as
// mpi-operator) from the API server. found is false when it does not
// exist.
func (r *Reconciler) getOwned(ctx context.Context, key types.NamespacedName, obj client.Object) (found bool, err error) {
	err = r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (r *Reconciler) ensureService(ctx context.Context, job *kubeflow.MPIJob) error {
	want := newService(job)
	svc := &corev1.Service{}
	found, err := r.getOwned(ctx, client.ObjectKeyFromObject(want), svc)
	if err != nil {
		return fmt.Errorf("getting the Service: %w", err)
	}
	if !found {
		if err := r.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the Service: %w", err)
		}
		return nil
	}
	if !metav1.IsControlledBy(svc, job) {
		return r.notControlled(job, "Service", svc.Name)
	}
	if !equality.Semantic.DeepEqual(svc.Spec.Selector, want.Spec.Selector) || svc.Labels[kubeflow.OperatorNameLabel] != kubeflow.OperatorName {
		svc = svc.DeepCopy()
		svc.Spec.Selector = want.Spec.Selector
		svc.Labels = mergeLabels(svc.Labels, want.Labels)
		if err := r.Update(ctx, svc); err != nil {
			return fmt.Errorf("updating the Service: %w", err)
		}
	}
	return nil
}

func mergeLabels(have, want map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range want {
		have[k] = v
	}
	return have
}

func (r *Reconciler) ensureConfigMap(ctx context.Context, job *kubeflow.MPIJob, workers []*corev1.Pod) error {
	var running []string
	for _, p := range workers {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running = append(running, p.Name)
		}
	}
	sort.Strings(running)
	want := newConfigMap(job, running)
	cm := &corev1.ConfigMap{}
	found, err := r.getOwned(ctx, client.ObjectKeyFromObject(want), cm)
	if err != nil {
		return fmt.Errorf("getting the ConfigMap: %w", err)
	}
	if !found {
		if err := r.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the ConfigMap: %w", err)
		}
		return nil
	}
	if !metav1.IsControlledBy(cm, job) {
		return r.notControlled(job, "ConfigMap", cm.Name)
	}
	if !equality.Semantic.DeepEqual(cm.Data, want.Data) || cm.Labels[kubeflow.OperatorNameLabel] != kubeflow.OperatorName {
		cm = cm.DeepCopy()
		cm.Data = want.Data
		cm.Labels = mergeLabels(cm.Labels, want.Labels)
		if err := r.Update(ctx, cm); err != nil {
			return fmt.Errorf("updating the ConfigMap: %w", err)
		}
	}
	return nil
}

func (r *Reconciler) createSecret(ctx context.Context, job *kubeflow.MPIJob) error {
	secret, err := newSSHSecret(job)
	if err != nil {
		return err
	}
	if err := r.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the SSH Secret: %w", err)
	}
	return nil
}

func (r *Reconciler) ensurePodGroup(ctx context.Context, job *kubeflow.MPIJob) error {
	if !r.gang.enabled() {
		return nil
	}
	want := r.gang.newPodGroup(job)
	have := &unstructured.Unstructured{}
	have.SetGroupVersionKind(want.GroupVersionKind())
	err := r.Get(ctx, client.ObjectKeyFromObject(want), have)
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the PodGroup: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting the PodGroup: %w", err)
	}
	if !metav1.IsControlledBy(have, job) {
		return r.notControlled(job, "PodGroup", have.GetName())
	}
	if !equality.Semantic.DeepEqual(have.Object["spec"], want.Object["spec"]) {
		have = have.DeepCopy()
		have.Object["spec"] = want.Object["spec"]
		if err := r.Update(ctx, have); err != nil {
			return fmt.Errorf("updating the PodGroup: %w", err)
		}
	}
	return nil
}

func (r *Reconciler) deletePodGroup(ctx context.Context, job *kubeflow.MPIJob) error {
	if !r.gang.enabled() {
		return nil
	}
	pg := &unstructured.Unstructured{}
	pg.SetGroupVersionKind(r.gang.kind())
	if err := r.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: job.Name}, pg); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(pg, job) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, pg))
}

// workerPods are the job's worker pods, by index.
func (r *Reconciler) workerPods(ctx context.Context, job *kubeflow.MPIJob) ([]*corev1.Pod, error) {
	return r.podsOf(ctx, job, kubeflow.RoleWorker)
}

func (r *Reconciler) podsOf(ctx context.Context, job *kubeflow.MPIJob, role string) ([]*corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := r.List(ctx, list, client.InNamespace(job.Namespace), client.MatchingLabels(podLabels(job.Name, role))); err != nil {
		return nil, fmt.Errorf("listing %s pods: %w", role, err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		if p := &list.Items[i]; metav1.IsControlledBy(p, job) || role == kubeflow.RoleLauncher {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return workerIndex(out[i]) < workerIndex(out[j]) })
	return out, nil
}

func workerIndex(p *corev1.Pod) int {
	i, err := strconv.Atoi(p.Labels[kubeflow.ReplicaIndexLabel])
	if err != nil {
		return -1
	}
	return i
}

// ensureWorkers creates the missing workers and deletes those beyond the
// replica count (a job scaled down); it returns the workers in index
// order.
func (r *Reconciler) ensureWorkers(ctx context.Context, job *kubeflow.MPIJob, have []*corev1.Pod) ([]*corev1.Pod, error) {
	n := int(job.WorkerReplicas())
	byName := map[string]*corev1.Pod{}
	for _, p := range have {
		if i := workerIndex(p); i >= n || i < 0 {
			if err := r.deletePod(ctx, p); err != nil {
				return nil, fmt.Errorf("deleting worker %s beyond %d replicas: %w", p.Name, n, err)
			}
			continue
		}
		byName[p.Name] = p
	}
	out := make([]*corev1.Pod, 0, n)
	for i := range n {
		name := kubeflow.WorkerName(job.Name, i)
		if p := byName[name]; p != nil {
			out = append(out, p)
			continue
		}
		pod, err := r.newWorker(job, i)
		if err != nil {
			return nil, err
		}
		if err := r.Create(ctx, pod); err != nil {
			if apierrors.IsAlreadyExists(err) {
				existing := &corev1.Pod{}
				if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), existing); err != nil {
					return nil, fmt.Errorf("getting worker %s: %w", name, err)
				}
				if !metav1.IsControlledBy(existing, job) {
					return nil, r.notControlled(job, "Pod", name)
				}
				out = append(out, existing)
				continue
			}
			r.event(job, corev1.EventTypeWarning, kubeflow.ReasonFailed, fmt.Sprintf("creating worker pod %s: %v", name, err))
			return nil, fmt.Errorf("creating worker %s: %w", name, err)
		}
		out = append(out, pod)
	}
	return out, nil
}

// launcherJob is the job's launcher Job, nil when there is none yet.
func (r *Reconciler) launcherJob(ctx context.Context, job *kubeflow.MPIJob) (*batchv1.Job, error) {
	l := &batchv1.Job{}
	found, err := r.getOwned(ctx, types.NamespacedName{Namespace: job.Namespace, Name: job.Name + kubeflow.LauncherSuffix}, l)
	if err != nil || !found {
		return nil, err
	}
	if !metav1.IsControlledBy(l, job) {
		return nil, r.notControlled(job, "Job", l.Name)
	}
	return l, nil
}

// startLauncher creates the launcher Job: at once (AtStartup), or once
// every worker is Running, Ready and its sshd answers
// (WaitForWorkersReady). Until then it asks to be called again.
func (r *Reconciler) startLauncher(ctx context.Context, job *kubeflow.MPIJob, workers []*corev1.Pod) (*batchv1.Job, reconcile.Result, error) {
	if job.Spec.LauncherCreationPolicy == kubeflow.LauncherCreationPolicyWaitForWorkersReady {
		if ok, wait := r.workersReady(ctx, job, workers); !ok {
			return nil, reconcile.Result{RequeueAfter: wait}, nil
		}
	}
	l, err := r.newLauncherJob(job)
	if err != nil {
		return nil, reconcile.Result{}, err
	}
	if err := r.Create(ctx, l); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, reconcile.Result{RequeueAfter: time.Second}, nil
		}
		r.event(job, corev1.EventTypeWarning, kubeflow.ReasonFailed, fmt.Sprintf("creating the launcher Job: %v", err))
		return nil, reconcile.Result{}, fmt.Errorf("creating the launcher Job: %w", err)
	}
	return l, reconcile.Result{}, nil
}

// alignSuspension suspends or resumes the launcher Job with the job. On
// resume, the launcher's template takes the scheduling directives of the
// job's (which Kueue sets while the job is suspended).
func (r *Reconciler) alignSuspension(ctx context.Context, job *kubeflow.MPIJob, launcher *batchv1.Job, suspended bool) error {
	update := launcher.DeepCopy()
	update.Spec.Suspend = &suspended
	// The Job API lets these change only while a Job that never ran is
	// suspended; a launcher that ran keeps its placement.
	if !suspended && launcher.Status.StartTime == nil && launcher.Status.Active+launcher.Status.Failed+launcher.Status.Succeeded == 0 {
		want, err := r.newLauncherJob(job)
		if err != nil {
			return err
		}
		t, w := &update.Spec.Template, want.Spec.Template
		// The Job's own labels (job-name, controller-uid) stay.
		t.Labels, t.Annotations = mergeLabels(t.Labels, w.Labels), mergeLabels(t.Annotations, w.Annotations)
		t.Spec.NodeSelector, t.Spec.Tolerations, t.Spec.SchedulingGates = w.Spec.NodeSelector, w.Spec.Tolerations, w.Spec.SchedulingGates
	}
	if err := r.Update(ctx, update); err != nil {
		return fmt.Errorf("suspending or resuming the launcher Job: %w", err)
	}
	*launcher = *update
	return nil
}

// deleteWorkers deletes the job's worker pods: all of them, or
// (cleanPodPolicy Running) those still pending or running.
func (r *Reconciler) deleteWorkers(ctx context.Context, job *kubeflow.MPIJob, workers []*corev1.Pod, all bool) error {
	if workers == nil {
		var err error
		if workers, err = r.workerPods(ctx, job); err != nil {
			return err
		}
	}
	for _, p := range workers {
		if p.DeletionTimestamp != nil {
			continue
		}
		if !all && p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		if err := r.deletePod(ctx, p); err != nil {
			return fmt.Errorf("deleting worker %s: %w", p.Name, err)
		}
	}
	return nil
}

// cleanUp applies cleanPodPolicy to a finished job's workers and deletes
// its PodGroup. A failed job's workers leave their last log lines in an
// event first, since their logs go with them.
func (r *Reconciler) cleanUp(ctx context.Context, job *kubeflow.MPIJob) error {
	policy := kubeflow.CleanPodPolicyNone
	if job.Spec.RunPolicy.CleanPodPolicy != nil {
		policy = *job.Spec.RunPolicy.CleanPodPolicy
	}
	if policy == kubeflow.CleanPodPolicyAll || policy == kubeflow.CleanPodPolicyRunning {
		workers, err := r.workerPods(ctx, job)
		if err != nil {
			return err
		}
		if len(workers) > 0 && job.Status.IsTrue(kubeflow.JobFailed) {
			for _, p := range workers {
				if p.DeletionTimestamp == nil && (policy == kubeflow.CleanPodPolicyAll || p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending) {
					if tail := r.tail(ctx, p); tail != "" {
						r.event(job, corev1.EventTypeNormal, "WorkerLog", fmt.Sprintf("last lines of worker %s before cleanPodPolicy %s deletes it:\n%s", p.Name, policy, tail))
					}
				}
			}
		}
		if err := r.deleteWorkers(ctx, job, workers, policy == kubeflow.CleanPodPolicyAll); err != nil {
			return err
		}
		if ws := job.Status.ReplicaStatuses[kubeflow.MPIReplicaTypeWorker]; ws != nil {
			ws.Active = 0
		}
	}
	return r.deletePodGroup(ctx, job)
}

// tail is the end of a pod's log, "" when it cannot be read.
func (r *Reconciler) tail(ctx context.Context, pod *corev1.Pod) string {
	out, err := r.Options.LogTail(ctx, pod.Namespace, pod.Name)
	if err != nil {
		log.FromContext(ctx).V(1).Info("cannot read the log", "pod", pod.Name, "error", err.Error())
		return ""
	}
	return strings.TrimRight(out, "\n")
}

func withTail(msg, what, tail string) string {
	if tail == "" {
		return msg
	}
	return msg + "; last lines of " + what + ":\n" + tail
}
