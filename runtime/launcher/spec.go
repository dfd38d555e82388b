package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// TaskSpec is one attempt, self-contained, as the controller hands it to
// `kfstack-runtime launch` in a task pod.
type TaskSpec struct {
	// RunID is the run's name.
	RunID string `json:"runId"`
	// RunUID is the run's unique ID (engine.State.RunUID).
	RunUID string `json:"runUid,omitempty"`
	// RunStart is when the run started.
	RunStart time.Time `json:"runStart"`
	// PipelineName is the pipeline's name.
	PipelineName string `json:"pipelineName"`
	// PipelineRoot is the artifact store URL.
	PipelineRoot string `json:"pipelineRoot"`
	// Path is the task's node path in the run.
	Path string `json:"path"`
	// Name is the task's name.
	Name string `json:"name"`
	// Container is the executor, placeholders unresolved.
	Container *pipeline.ContainerSpec `json:"container"`
	// Inputs are the component's input definitions.
	Inputs pipeline.InterfaceDefinitions `json:"inputs"`
	// Outputs are the component's output definitions.
	Outputs pipeline.InterfaceDefinitions `json:"outputs"`
	// Params are the resolved input parameters.
	Params map[string]any `json:"params,omitempty"`
	// Artifacts are the resolved input artifacts.
	Artifacts map[string][]engine.Artifact `json:"artifacts,omitempty"`
}

// NewTaskSpec describes a StartTask action for a task pod.
func NewTaskSpec(run *engine.TaskRun, root string) *TaskSpec {
	c := run.Component
	return &TaskSpec{
		RunID: run.RunID, RunUID: run.RunUID, RunStart: run.RunStart, PipelineName: run.PipelineName, PipelineRoot: root,
		Path: run.Path, Name: run.Name, Container: c.Executor.Container,
		Inputs: c.Inputs, Outputs: c.Outputs, Params: run.Params, Artifacts: run.Artifacts,
	}
}

// TaskRun rebuilds the attempt from its description.
func (t *TaskSpec) TaskRun() (*engine.TaskRun, error) {
	if t.Container == nil {
		return nil, errors.New("task spec has no container")
	}
	comp, err := pipeline.NewContainerComponent(t.Name, t.Inputs, t.Outputs, t.Container)
	if err != nil {
		return nil, fmt.Errorf("compiling task %q: %w", t.Path, err)
	}
	return &engine.TaskRun{
		RunID: t.RunID, RunUID: t.RunUID, RunStart: t.RunStart, PipelineName: t.PipelineName, Path: t.Path, Name: t.Name,
		Task: &pipeline.Task{Name: t.Name, Component: comp}, Component: comp, Params: t.Params, Artifacts: t.Artifacts,
	}, nil
}

// MaxMessage is the size of a Kubernetes termination message; larger
// results go to the artifact store and the message points at them.
const MaxMessage = 4096

// Message is what a task pod reports through its termination message.
type Message struct {
	// Params are the output parameters (absent when offloaded).
	Params map[string]any `json:"params,omitempty"`
	// Artifacts are the output artifacts (absent when offloaded).
	Artifacts map[string][]engine.Artifact `json:"artifacts,omitempty"`
	// ResultURI points at the full result when it did not fit.
	ResultURI string `json:"resultUri,omitempty"`
	// Error is the failure.
	Error string `json:"error,omitempty"`
	// LogTail is the end of the failed command's output.
	LogTail string `json:"logTail,omitempty"`
}

// EncodeResult builds the termination message for a finished attempt,
// offloading the result to the store when it exceeds MaxMessage.
func EncodeResult(ctx context.Context, store *Store, spec *TaskSpec, res *Result, runErr error) ([]byte, error) {
	if runErr != nil {
		m := Message{Error: runErr.Error()}
		var te *TaskError
		if errors.As(runErr, &te) {
			m.Error, m.LogTail = te.Err.Error(), te.LogTail
		}
		for {
			b, err := json.Marshal(m)
			if err != nil || len(b) <= MaxMessage {
				return b, err
			}
			// Keep the end of the log, which explains the failure best.
			over := len(b) - MaxMessage + len("…")
			if over >= len(m.LogTail) {
				m.LogTail = ""
				m.Error = m.Error[:max(0, len(m.Error)-over)]
				continue
			}
			m.LogTail = "…" + strings.ToValidUTF8(m.LogTail[over:], "")
		}
	}
	full := Message{Params: res.Params, Artifacts: res.Artifacts}
	b, err := json.Marshal(full)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	if len(b) <= MaxMessage {
		return b, nil
	}
	rel := spec.PipelineName + "/" + engine.RunDir(spec.RunID, spec.RunUID) + "/" + safePath(spec.Path) + "/.result.json"
	if err := store.WriteAll(ctx, rel, b); err != nil {
		return nil, fmt.Errorf("offloading result: %w", err)
	}
	return json.Marshal(Message{ResultURI: store.URI(rel)})
}

// ErrStoreUnavailable marks a failure to read from the artifact store that
// may pass (the store or the network is down), as opposed to a result
// that is not there: the caller tries again later instead of failing the
// task.
var ErrStoreUnavailable = errors.New("the artifact store did not answer")

// DecodeResult reads a termination message (fetching an offloaded result)
// into the event the engine expects.
func DecodeResult(ctx context.Context, store *Store, msg []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("decoding termination message: %w", err)
	}
	if m.ResultURI == "" {
		return &m, nil
	}
	bucket, key, release, err := store.locate(ctx, m.ResultURI)
	if err != nil {
		return nil, err
	}
	defer release()
	b, err := bucket.ReadAll(ctx, key)
	if err != nil {
		if IsNotFound(err) {
			return nil, fmt.Errorf("reading offloaded result %s: %w", m.ResultURI, err)
		}
		// The result is there, the store does not answer: try again.
		return nil, fmt.Errorf("reading offloaded result %s: %w: %w", m.ResultURI, ErrStoreUnavailable, err)
	}
	var full Message
	if err := json.Unmarshal(b, &full); err != nil {
		return nil, fmt.Errorf("decoding offloaded result: %w", err)
	}
	return &full, nil
}
