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
	// SecretEnv names, for each input parameter that comes from a
	// Kubernetes Secret (its value in Params is a reference,
	// pipeline.SecretParameter), the environment variable of the task's
	// container that holds the value; the kubelet sets it from the Secret.
	SecretEnv map[string]string `json:"secretEnv,omitempty"`
	// Attempt is the attempt's number; when set, the launcher keeps the
	// attempt's output and record in the store (Config.KeepRecords).
	Attempt int32 `json:"attempt,omitempty"`
}

// ResolveSecrets replaces the references of secret input parameters with
// their values, read with lookup from the environment variables SecretEnv
// names. It runs inside the task pod only: nothing outside it ever holds
// the values.
func (t *TaskSpec) ResolveSecrets(lookup func(string) (string, bool)) error {
	for input, env := range t.SecretEnv {
		if _, ok := pipeline.SecretParameterName(t.Params[input]); !ok {
			return fmt.Errorf("input parameter %q: the task spec names environment variable %s for it, but its value is not a secret parameter", input, env)
		}
		v, ok := lookup(env)
		if !ok {
			return fmt.Errorf("input parameter %q: environment variable %s, which holds its value from a Secret, is not set", input, env)
		}
		t.Params[input] = v
	}
	for input, v := range t.Params {
		if name, ok := pipeline.SecretParameterName(v); ok {
			return fmt.Errorf("input parameter %q: secret parameter %q has no value in this pod", input, name)
		}
	}
	return nil
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

// TaskRun rebuilds the attempt from its description. Names that become
// file paths are checked again (pipeline.CheckPathName): the spec comes
// from the pod's environment.
func (t *TaskSpec) TaskRun() (*engine.TaskRun, error) {
	if t.Container == nil {
		return nil, errors.New("task spec has no container")
	}
	if err := pipeline.CheckTaskPath(t.Path); err != nil {
		return nil, fmt.Errorf("task spec: %w", err)
	}
	names := map[string]string{"pipeline name": t.PipelineName, "run ID": t.RunID}
	if t.RunUID != "" {
		names["run UID"] = t.RunUID
	}
	for what, name := range names {
		if err := pipeline.CheckPathName(name); err != nil {
			return nil, fmt.Errorf("task spec: %s %w", what, err)
		}
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
	// Notes say how the task ran (Result.Notes).
	Notes []string `json:"notes,omitempty"`
}

// EncodeResult builds the termination message for a finished attempt,
// offloading the result to the store when it exceeds MaxMessage.
func EncodeResult(ctx context.Context, store *Store, spec *TaskSpec, res *Result, runErr error) ([]byte, error) {
	if runErr != nil {
		m := Message{Error: runErr.Error()}
		var te *TaskError
		if errors.As(runErr, &te) {
			m.Error, m.LogTail, m.Notes = te.Err.Error(), te.LogTail, te.Notes
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
	full := Message{Params: res.Params, Artifacts: res.Artifacts, Notes: res.Notes}
	b, err := json.Marshal(full)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	if len(b) <= MaxMessage {
		return b, nil
	}
	rel := ResultPath(spec.PipelineName, spec.RunID, spec.RunUID, spec.Path)
	if err := store.WriteAll(ctx, rel, b); err != nil {
		return nil, fmt.Errorf("offloading result: %w", err)
	}
	return json.Marshal(Message{ResultURI: store.URI(rel)})
}

// ResultPath is where, under the pipeline root, a task's result goes when
// it is too large for its termination message: next to its artifacts, in
// the run's directory (engine.RunDir: the run's UID when it has one, so a
// run made again under the same name never reads the other's result).
func ResultPath(pipelineName, runID, runUID, taskPath string) string {
	return pipelineName + "/" + engine.RunDir(runID, runUID) + "/" + safePath(taskPath) + "/.result.json"
}

// DecodeResult reads a termination message into the event the engine
// expects. An offloaded result is read only from resultPath under the
// store's root (ResultPath of the attempt's task): the message comes from
// the task's own code, and the caller (the controller) must not read
// whatever location a task names with its own identity.
func DecodeResult(ctx context.Context, store *Store, msg []byte, resultPath string) (*Message, error) {
	var m Message
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("decoding termination message: %w", err)
	}
	if m.ResultURI == "" {
		return &m, nil
	}
	if want := store.URI(resultPath); m.ResultURI != want {
		return nil, &ForeignResultError{URI: m.ResultURI, Want: want}
	}
	b, err := store.ReadAll(ctx, resultPath)
	if err != nil {
		return nil, &ReadError{What: "offloaded result " + m.ResultURI, Err: err}
	}
	var full Message
	if err := json.Unmarshal(b, &full); err != nil {
		return nil, fmt.Errorf("decoding offloaded result: %w", err)
	}
	return &full, nil
}

// ForeignResultError is a termination message pointing at a result
// somewhere else than where the task's result belongs.
type ForeignResultError struct {
	// URI is where the message points; Want where the result belongs.
	URI, Want string
}

func (e *ForeignResultError) Error() string {
	return fmt.Sprintf("the task's offloaded result must be at %s, not %s; not read", e.Want, e.URI)
}
