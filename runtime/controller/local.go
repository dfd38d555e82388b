package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/executor/local"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// localRuns holds the local executors of the runs using the `local`
// executor. Finished attempts queue up here and wake the run's reconcile
// through a channel source, so a finished process starts its dependants
// at once.
type localRuns struct {
	workDir        string
	cmdDir         string
	pythonExecutor launcher.PythonExecutor
	python         string
	wake           chan event.TypedGenericEvent[*v1alpha1.PipelineRun]

	mu   sync.Mutex
	runs map[types.NamespacedName]*localRun
}

// localRun is one run's executor and its undelivered results.
type localRun struct {
	uid types.UID
	x   *local.Executor
	// store is the run's own, open while its processes run.
	store   *launcher.Store
	cancel  context.CancelFunc
	mu      sync.Mutex
	pending []engine.Event
	// started lists the attempts this process started: after a controller
	// restart an attempt in the state but not here has no process.
	started map[int32]int32
}

func newLocalRuns(workDir, cmdDir string) *localRuns {
	return &localRuns{workDir: workDir, cmdDir: cmdDir, wake: make(chan event.TypedGenericEvent[*v1alpha1.PipelineRun], 1024), runs: map[types.NamespacedName]*localRun{}}
}

// get returns the run's executor, creating it on first use.
func (l *localRuns) get(ctx context.Context, run *v1alpha1.PipelineRun, root string, parallel int) (*localRun, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	if lr, ok := l.runs[key]; ok {
		if lr.uid == run.UID {
			return lr, nil
		}
		// A run deleted and created again under the same name.
		lr.close()
		delete(l.runs, key)
	}
	dir := filepath.Join(l.workDir, run.Namespace, run.Name+"-"+string(run.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	cmdDir := l.cmdDir
	if cmdDir == "" {
		cmdDir = dir
	}
	// The local executor acts for the run with the controller's own
	// identity (it is off unless the controller was started with it):
	// its tasks read artifacts wherever their URIs say, as in a pod.
	store, err := launcher.OpenStore(context.WithoutCancel(ctx), root, launcher.StoreOptions{ForeignReads: true})
	if err != nil {
		return nil, err
	}
	cfg := launcher.Config{Mode: launcher.LocalMode, PipelineRoot: root, WorkDir: dir, Dir: cmdDir, KeepRecords: true,
		WorkspacePath: l.workspace(run), PythonExecutor: l.pythonExecutor, Python: l.python}
	lr := &localRun{uid: run.UID, x: local.New(cfg, store, parallel), store: store, started: map[int32]int32{}}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	lr.cancel = cancel
	obj := &v1alpha1.PipelineRun{}
	obj.Namespace, obj.Name = run.Namespace, run.Name
	go func() {
		for {
			select {
			case ev := <-lr.x.Events():
				lr.mu.Lock()
				lr.pending = append(lr.pending, ev)
				lr.mu.Unlock()
				select {
				case l.wake <- event.TypedGenericEvent[*v1alpha1.PipelineRun]{Object: obj}:
				case <-runCtx.Done():
					return
				}
			case <-runCtx.Done():
				return
			}
		}
	}()
	l.runs[key] = lr
	return lr, nil
}

// workspace is the directory that stands for a local run's workspace
// (the PVC a pod run mounts at /kfp-workspace).
func (l *localRuns) workspace(run *v1alpha1.PipelineRun) string {
	dir := filepath.Join(l.workDir, run.Namespace, run.Name+"-"+string(run.UID), "workspace")
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// take removes and returns the results that arrived.
func (lr *localRun) take() []engine.Event {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	out := lr.pending
	lr.pending = nil
	return out
}

// requeue puts back results that a failed status update did not record.
func (lr *localRun) requeue(evs []engine.Event) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	lr.pending = append(evs, lr.pending...)
}

// start runs an attempt unless this process already started it.
func (lr *localRun) start(ctx context.Context, a engine.Action) {
	lr.mu.Lock()
	if lr.started[a.Node] >= a.Attempt {
		lr.mu.Unlock()
		return
	}
	lr.started[a.Node] = a.Attempt
	lr.mu.Unlock()
	lr.x.Start(ctx, a)
}

// running reports whether this process runs the attempt.
func (lr *localRun) running(node, attempt int32) bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.started[node] == attempt
}

// stop ends the run's executor (killing its processes) and forgets it.
func (l *localRuns) stop(name types.NamespacedName) {
	l.mu.Lock()
	lr := l.runs[name]
	delete(l.runs, name)
	l.mu.Unlock()
	if lr == nil {
		return
	}
	lr.close()
}

// close kills the run's processes and closes its store once they ended.
func (lr *localRun) close() {
	lr.cancel()
	go func() {
		lr.x.Close()
		lr.store.Close()
	}()
}
