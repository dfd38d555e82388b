// Package controller is the runtime's controller: reconcilers for Pipeline
// (content versions) and PipelineRun (the engine driven from the run's
// status, tasks as Pods or local processes), and Schedule (package
// schedules).
package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/versions"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/controller/schedules"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// Options configure the controller.
type Options struct {
	// RuntimeImage is the image holding kfstack-runtime; the init
	// container of every task pod copies it into the pod.
	RuntimeImage string
	// RuntimeBinary is the binary's path in RuntimeImage.
	RuntimeBinary string
	// PipelineRoot is the artifact store of runs that do not name one.
	// Without it (and without AllowLocalExecutor, which defaults it to a
	// directory under WorkDir) every run must name its own.
	PipelineRoot string
	// AllowedFileRoots are the directories under which a run may name a
	// file:// pipeline root of its own (spec.pipelineRoot); the controller
	// reads and writes that root with its own identity. Roots of other
	// schemes are not limited here: the controller's cloud identity should
	// reach only the buckets meant for artifacts.
	AllowedFileRoots []string
	// AllowLocalExecutor lets runs use the local executor: task commands
	// run inside the controller's process, as the controller's user and
	// with its Kubernetes identity. Only for a controller run on a
	// developer's machine (make demo, tests); never in a shared cluster.
	AllowLocalExecutor bool
	// WorkDir holds the work files of local-executor runs.
	WorkDir string
	// LocalCommandDir is the working directory of local task commands
	// (default: the run's work directory).
	LocalCommandDir string
	// MaxConcurrentReconciles is how many runs advance at once.
	MaxConcurrentReconciles int
	// LostPodGrace is how old a running attempt must be before a missing
	// pod counts as lost (default 10s).
	LostPodGrace time.Duration
	// ImageRules rewrite the images of task pods, the user's and the
	// runtime's, for clusters that pull from a mirror or have the images
	// under other names.
	ImageRules imagerewrite.Rules
	// TaskPodDefaults are added to every task pod.
	TaskPodDefaults TaskPodDefaults
	// MaxRunningTasks caps the task pods that exist unfinished at once,
	// across all runs (0: no cap). Ready tasks beyond it wait, oldest run
	// first, and start as soon as a pod ends.
	MaxRunningTasks int
	// CacheSigningKey signs the entries of the task cache and is required
	// of the entries read (launcher.StoreCache); a random key, valid for
	// this process only, when nil.
	CacheSigningKey []byte
	// PythonExecutor chooses the kfp that Python-function components run
	// with, in pods (KFSTACK_PYTHON_EXECUTOR) and local runs: auto (""),
	// builtin or kfp.
	PythonExecutor launcher.PythonExecutor
	// Python is the python3 interpreter of local-executor runs ("": the
	// one on PATH).
	Python string
	// RunSelector is the selector of the runs and schedules this
	// controller drives (as given to CacheOptions), nil for all. With one,
	// MaxRunningTasks counts only the pods of these runs. A schedule's
	// runs carry its labels, so they go to the controller of the schedule.
	RunSelector labels.Selector
	// Clock tells schedules the time and wakes them at their fire times
	// (default: the real clock; tests use a fake one).
	Clock clock.WithDelayedExecution
	// MaxConcurrentSchedules is how many schedules are handled at once
	// (default 16): many schedules that fire at the same second make
	// their runs this many at a time.
	MaxConcurrentSchedules int
}

// runPolicy is what the controller allows of runs.
func (o Options) runPolicy() validation.RunPolicy {
	return validation.RunPolicy{LocalExecutor: o.AllowLocalExecutor}
}

// Validate reports options no controller can run with.
func (o Options) Validate() error {
	if err := o.ImageRules.Validate(); err != nil {
		return fmt.Errorf("image rules: %w", err)
	}
	for _, dir := range o.AllowedFileRoots {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("allowed file root %q is not an absolute directory", dir)
		}
	}
	if o.CacheSigningKey != nil && len(o.CacheSigningKey) < minCacheKey {
		return fmt.Errorf("the cache signing key has %d bytes, fewer than %d", len(o.CacheSigningKey), minCacheKey)
	}
	return o.TaskPodDefaults.validate()
}

// withDefaults fills unset options.
func (o Options) withDefaults() Options {
	if o.RuntimeBinary == "" {
		o.RuntimeBinary = v1alpha1.RuntimeBinaryPath
	}
	if o.RuntimeImage == "" {
		o.RuntimeImage = "ghcr.io/kfstack/kfstack-runtime:latest"
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(os.TempDir(), "kfstack-local")
	}
	if o.PipelineRoot == "" && o.AllowLocalExecutor {
		o.PipelineRoot = "file://" + filepath.Join(o.WorkDir, "artifacts")
	}
	if o.LostPodGrace <= 0 {
		o.LostPodGrace = 10 * time.Second
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	return o
}

func controllerOptions(o Options) controller.Options {
	return controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}
}

// CacheOptions are the manager's cache options the controller needs: only
// the runtime's own pods are watched (TaskPodSelector), cached slim
// (labels, owner, phase, termination message), and runSelector, when not
// nil, limits the PipelineRuns this controller drives (to split runs
// between controllers). The metadata of version ConfigMaps is in the
// Pipeline reconciler's own cache: the manager's ConfigMap selector is
// left to others (runtime/mpijob).
func CacheOptions(runSelector labels.Selector) cache.Options {
	by := map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: TaskPodSelector(), Transform: slimPod}}
	if runSelector != nil {
		by[&v1alpha1.PipelineRun{}] = cache.ByObject{Label: runSelector}
		by[&v1alpha1.Schedule{}] = cache.ByObject{Label: runSelector}
	}
	return cache.Options{ByObject: by}
}

// TaskPodSelector selects the pods the controller watches: those labelled
// v1alpha1.LabelRunUID, which every pod the runtime makes carries. Without
// it the manager's informer would hold every pod of the cluster in memory,
// and any pod a user labels or names could reach the controller's
// handlers; with it, memory and reach grow with the runtime's own pods
// only. A controller added later whose pods the manager must watch (MPI
// jobs' launcher and workers) labels them with the UID of the custom
// resource that owns them under the same key, or the shared informer
// never sees them; the count of running tasks (slots.go) counts only
// those controlled by a PipelineRun.
func TaskPodSelector() labels.Selector {
	req, err := labels.NewRequirement(v1alpha1.LabelRunUID, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	return labels.NewSelector().Add(*req)
}

// Setup registers the Pipeline, PipelineRun and Schedule reconcilers with
// mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := (&PipelineReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("kfstack-pipeline")}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Pipeline controller: %w", err)
	}
	runs := &PipelineRunReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Options: opts, Recorder: mgr.GetEventRecorder("kfstack-run")}
	if err := runs.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the PipelineRun controller: %w", err)
	}
	if opts.AllowLocalExecutor {
		if err := setupLocalExecutorNotice(context.Background(), mgr); err != nil {
			return fmt.Errorf("publishing the local executor notice: %w", err)
		}
	}
	return schedules.Setup(mgr, schedules.Options{Clock: opts.Clock, MaxConcurrentReconciles: opts.MaxConcurrentSchedules})
}

// errVersionGone marks a run whose version is no longer kept.
var errVersionGone = errors.New("pipeline version is no longer kept")

// invalidError marks content that does not compile.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

func isInvalid(err error) bool {
	var ie *invalidError
	return errors.As(err, &ie)
}

// planCache keeps compiled plans by content hash: compiling is the costly
// part of a step for big pipelines, and a hash names immutable content.
type planCache struct {
	mu    sync.Mutex
	plans map[string]*pipeline.Plan
}

func newPlanCache() *planCache { return &planCache{plans: map[string]*pipeline.Plan{}} }

// maxPlans bounds the cache; it is emptied when full (plans recompile).
const maxPlans = 256

// forRun returns the compiled plan of the run's version: from memory, or
// compiled from the version's ConfigMap (recorded in the run's status when
// it resolved its version), read past the cache and checked against the
// content hash in the run's status. It never looks at the Pipeline: a run
// that has started runs to its end on its version's content whether the
// version is still kept and the pipeline still exists or not, since the
// content of a version is kept while runs that use it have not ended
// (PipelineReconciler.collect). So the outcome never depends on what this
// process has in memory. Errors reading the ConfigMap other than its
// absence are transient: the reconcile is retried with backoff.
func (c *planCache) forRun(ctx context.Context, r client.Reader, run *v1alpha1.PipelineRun) (*pipeline.Plan, error) {
	c.mu.Lock()
	p, ok := c.plans[run.Status.ContentHash]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	name := run.Status.VersionConfigMap
	if name == "" {
		return nil, fmt.Errorf("the run records no ConfigMap for version %d of pipeline %q: %w", run.Status.PipelineVersion, run.Spec.Pipeline, errVersionGone)
	}
	content, err := versions.Read(ctx, r, run.Namespace, name, run.Status.ContentHash)
	switch {
	case err == nil:
	case errors.Is(err, versions.ErrGone):
		return nil, fmt.Errorf("version %d of pipeline %q: %w (%w)", run.Status.PipelineVersion, run.Spec.Pipeline, errVersionGone, err)
	case errors.Is(err, versions.ErrAltered):
		return nil, &invalidError{err: fmt.Errorf("version %d of pipeline %q: %w", run.Status.PipelineVersion, run.Spec.Pipeline, err)}
	default:
		return nil, err
	}
	p, err = validation.CompileContent(content.Spec, content.DAG)
	if err != nil {
		return nil, &invalidError{err: fmt.Errorf("compiling version %d: %w", run.Status.PipelineVersion, err)}
	}
	c.mu.Lock()
	if len(c.plans) >= maxPlans {
		clear(c.plans)
	}
	c.plans[run.Status.ContentHash] = p
	c.mu.Unlock()
	return p, nil
}

// maxOpenStores bounds the artifact stores kept open (by pipeline root);
// the least recently used is closed beyond it.
const maxOpenStores = 32
