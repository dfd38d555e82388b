// Package launcher runs one task attempt: it builds the executor input KFP
// components expect, resolves the command's placeholders, stages input
// artifacts, runs the command, and collects output parameters and
// artifacts (honouring executor_output.json, which Python-function
// components write through kfp.dsl.executor_main). The same code runs in a
// task pod (`kfstack-runtime launch`) and as a local process.
package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pyexec"
)

// Mode decides how artifact URIs appear inside the executor input.
type Mode int

const (
	// LocalMode passes local paths as artifact URIs, as kfp.local does, so
	// that an artifact's .path and .uri are the staged file.
	LocalMode Mode = iota
	// PodMode passes the remote URIs and stages files where KFP's Python
	// SDK maps them (/gcs/..., /s3/..., /minio/...).
	PodMode
)

// Config is where a task attempt runs.
type Config struct {
	// Mode selects local or pod artifact paths.
	Mode Mode
	// PipelineRoot is the artifact store URL.
	PipelineRoot string
	// WorkDir holds the attempt's scratch files (outputs, staged artifacts).
	WorkDir string
	// Dir is the command's working directory ("" for the current one).
	Dir string
	// Env is the environment the command inherits (nil: this process's).
	Env []string
	// Log receives the command's output as it runs (may be nil).
	Log io.Writer
	// LogTailBytes is how much of the end of the output a failure reports.
	LogTailBytes int
	// KeepRecords keeps the attempt's output and a Record of it in the
	// store, under AttemptDir(run, Attempt), so that they outlive the pod
	// or process that ran it.
	KeepRecords bool
	// Attempt is the attempt's number (KeepRecords).
	Attempt int32
	// LogFlushInterval is how often the kept output is brought up to
	// date while the command runs (0: DefaultLogFlushInterval).
	LogFlushInterval time.Duration
	// MaxLogBytes bounds the output kept (0: DefaultMaxLogBytes).
	MaxLogBytes int64
	// WorkspacePath is the run's workspace for `{{$.workspace_path}}`.
	WorkspacePath string
	// PythonExecutor chooses the kfp that Python-function components run
	// with ("": the KFSTACK_PYTHON_EXECUTOR environment variable, else auto).
	PythonExecutor PythonExecutor
	// Python is the interpreter Python components run with, put first on
	// PATH as python3 ("": the python3 on PATH).
	Python string
}

// ExecutorInput is the JSON handed to a component through `{{$}}`, in the
// shape of KFP's pipeline_spec ExecutorInput (proto JSON names).
type ExecutorInput struct {
	// Inputs are the resolved inputs.
	Inputs ExecutorInputs `json:"inputs"`
	// Outputs say where to write outputs.
	Outputs ExecutorOutputs `json:"outputs"`
}

// ExecutorInputs holds parameter values and artifacts.
type ExecutorInputs struct {
	// ParameterValues are JSON values by name.
	ParameterValues map[string]any `json:"parameterValues,omitempty"`
	// Artifacts are artifact lists by name.
	Artifacts map[string]*ArtifactList `json:"artifacts,omitempty"`
}

// ArtifactList wraps a list of runtime artifacts, as KFP does.
type ArtifactList struct {
	// Artifacts are the artifacts.
	Artifacts []*RuntimeArtifact `json:"artifacts"`
}

// RuntimeArtifact is one artifact as components see it.
type RuntimeArtifact struct {
	// Name is the artifact's name.
	Name string `json:"name"`
	// Type is the artifact's schema.
	Type pipeline.ArtifactType `json:"type"`
	// URI is where the component reads or writes it.
	URI string `json:"uri"`
	// Metadata is free-form.
	Metadata map[string]any `json:"metadata"`
	// CustomPath is where a component wrote an output artifact with
	// set_path() (executor output only).
	CustomPath string `json:"custom_path,omitempty"`
}

// ExecutorOutputs says where outputs go.
type ExecutorOutputs struct {
	// Parameters give each output parameter's file.
	Parameters map[string]*OutputParameter `json:"parameters,omitempty"`
	// Artifacts are the output artifacts to write.
	Artifacts map[string]*ArtifactList `json:"artifacts,omitempty"`
	// OutputFile is where the component may write executor_output.json.
	OutputFile string `json:"outputFile"`
}

// OutputParameter is an output parameter's file.
type OutputParameter struct {
	// OutputFile is the path to write the value to.
	OutputFile string `json:"outputFile"`
}

// Prepared is a task attempt ready to run: no file has been touched yet.
type Prepared struct {
	// Input is the executor input.
	Input *ExecutorInput
	// Argv is the resolved command line.
	Argv []string
	// Env is the resolved extra environment (NAME=value).
	Env []string
	// Image is the container image.
	Image   string
	inputs  []staged
	outputs map[string]staged
	work    string
}

type staged struct {
	local, remote string
}

// Prepare resolves the executor input and the command line of a task
// attempt. It does no I/O, so `run --dry-run` uses it to print commands.
func Prepare(run *engine.TaskRun, cfg Config) (*Prepared, error) {
	ex := run.Component.Executor
	if ex == nil || ex.Container == nil {
		return nil, fmt.Errorf("task %q has no container executor", run.Path)
	}
	work := filepath.Join(cfg.WorkDir, filepath.FromSlash(safePath(run.Path)))
	p := &Prepared{Image: ex.Container.Image, outputs: map[string]staged{}, work: work}
	in := &ExecutorInput{}
	if len(run.Params) > 0 {
		in.Inputs.ParameterValues = map[string]any{}
		for k, v := range run.Params {
			in.Inputs.ParameterValues[k] = v
		}
	}
	locals := map[string][]string{}
	for _, name := range sortedKeys(run.Artifacts) {
		list := &ArtifactList{}
		def := run.Component.Inputs.Artifacts[name]
		for i, a := range run.Artifacts[name] {
			local := filepath.Join(work, "inputs", "artifacts", name, fmt.Sprint(i))
			if cfg.Mode == PodMode {
				local = PodPath(a.URI)
			}
			ra := &RuntimeArtifact{Name: a.Name, URI: exposedURI(cfg.Mode, a.URI, local), Metadata: orEmpty(a.Metadata)}
			ra.Type.SchemaTitle = a.SchemaTitle
			if def != nil {
				ra.Type = def.ArtifactType
			}
			list.Artifacts = append(list.Artifacts, ra)
			p.inputs = append(p.inputs, staged{local: local, remote: a.URI})
			locals[name] = append(locals[name], local)
		}
		if in.Inputs.Artifacts == nil {
			in.Inputs.Artifacts = map[string]*ArtifactList{}
		}
		in.Inputs.Artifacts[name] = list
	}
	outDir := filepath.Join(work, "outputs")
	in.Outputs.OutputFile = filepath.Join(outDir, "output_metadata.json")
	for _, name := range sortedKeys(run.Component.Outputs.Parameters) {
		if in.Outputs.Parameters == nil {
			in.Outputs.Parameters = map[string]*OutputParameter{}
		}
		in.Outputs.Parameters[name] = &OutputParameter{OutputFile: filepath.Join(outDir, "parameters", name)}
	}
	for _, name := range sortedKeys(run.Component.Outputs.Artifacts) {
		def := run.Component.Outputs.Artifacts[name]
		remote := ArtifactURI(cfg.PipelineRoot, run, name)
		local := filepath.Join(outDir, "artifacts", name)
		if cfg.Mode == PodMode {
			local = PodPath(remote)
		}
		if in.Outputs.Artifacts == nil {
			in.Outputs.Artifacts = map[string]*ArtifactList{}
		}
		in.Outputs.Artifacts[name] = &ArtifactList{Artifacts: []*RuntimeArtifact{{
			Name: name, Type: def.ArtifactType, URI: exposedURI(cfg.Mode, remote, local), Metadata: map[string]any{},
		}}}
		p.outputs[name] = staged{local: local, remote: remote}
	}
	p.Input = in
	res := &resolver{run: run, in: in, cfg: cfg, locals: locals}
	for _, a := range append(append([]*pipeline.Arg{}, ex.Command...), ex.Args...) {
		out, err := a.Expand(res)
		if err != nil {
			return nil, fmt.Errorf("resolving command of task %q: %w", run.Path, err)
		}
		p.Argv = append(p.Argv, out...)
	}
	for _, e := range ex.Env {
		out, err := e.Value.Expand(res)
		if err != nil {
			return nil, fmt.Errorf("resolving env %s of task %q: %w", e.Name, run.Path, err)
		}
		p.Env = append(p.Env, e.Name+"="+strings.Join(out, ""))
	}
	if len(p.Argv) == 0 {
		return nil, fmt.Errorf("task %q resolves to an empty command line", run.Path)
	}
	return p, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// exposedURI is the URI a component sees: the local path in LocalMode (as
// kfp.local), the remote URI in PodMode except for file:// roots, whose
// path the SDK would not map.
func exposedURI(mode Mode, remote, local string) string {
	if mode == LocalMode {
		return local
	}
	if p, ok := strings.CutPrefix(remote, "file://"); ok {
		return p
	}
	return remote
}

// PodPath is where KFP's SDK expects an artifact's file inside a task
// container: gs://b/k at /gcs/b/k, s3:// at /s3/, minio:// at /minio/.
func PodPath(uri string) string {
	for _, m := range []struct{ scheme, dir string }{{"gs://", "/gcs/"}, {"s3://", "/s3/"}, {"minio://", "/minio/"}, {"file://", "/"}} {
		if rest, ok := strings.CutPrefix(uri, m.scheme); ok {
			return m.dir + strings.TrimLeft(rest, "/")
		}
	}
	return uri
}

// ArtifactURI is where an output artifact of a task is stored:
// <root>/<pipeline>/<run UID>/<task path>/<output>, as KFP lays it out
// (the run's name stands in for runs without a UID).
func ArtifactURI(root string, run *engine.TaskRun, output string) string {
	base := strings.TrimRight(root, "/")
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base = base[:i]
	}
	return base + "/" + run.PipelineName + "/" + run.RunDir() + "/" + safePath(run.Path) + "/" + output
}

// safePath turns a node path into a relative file path: "loop[2]/train"
// becomes "loop/2/train".
func safePath(p string) string {
	r := strings.NewReplacer("[", "/", "]", "")
	return r.Replace(p)
}

type resolver struct {
	run    *engine.TaskRun
	in     *ExecutorInput
	cfg    Config
	locals map[string][]string
}

func (r *resolver) Present(name string) bool {
	if _, ok := r.run.Params[name]; ok {
		return true
	}
	return len(r.run.Artifacts[name]) > 0
}

func (r *resolver) Resolve(ref *pipeline.Ref) (string, error) {
	switch ref.Kind {
	case pipeline.RefExecutorInput:
		// KFP's launcher writes proto JSON, which does not HTML-escape.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r.in); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	case pipeline.RefInputParameter:
		v, ok := r.run.Params[ref.Name]
		if !ok {
			return "", fmt.Errorf("input parameter %q has no value (wrap it in IfPresent if it is optional)", ref.Name)
		}
		return pipeline.FormatParameter(v), nil
	case pipeline.RefInputArtifact:
		list := r.in.Inputs.Artifacts[ref.Name]
		if list == nil || len(list.Artifacts) == 0 {
			return "", fmt.Errorf("input artifact %q has no value", ref.Name)
		}
		return artifactAttr(ref, list, r.locals[ref.Name][0])
	case pipeline.RefOutputParameter:
		return r.in.Outputs.Parameters[ref.Name].OutputFile, nil
	case pipeline.RefOutputArtifact:
		list := r.in.Outputs.Artifacts[ref.Name]
		local := list.Artifacts[0].URI
		if r.cfg.Mode == PodMode {
			local = PodPath(list.Artifacts[0].URI)
		}
		return artifactAttr(ref, list, local)
	case pipeline.RefRuntime:
		return engine.RuntimeValue(ref.Name, r.run.RunID, r.run.RunUID, r.run.RunStart, r.run.Name, r.run.RunDir()+"-"+r.run.Path, r.cfg.PipelineRoot, r.cfg.WorkspacePath), nil
	}
	return "", fmt.Errorf("unsupported placeholder %s", ref.Text)
}

func artifactAttr(ref *pipeline.Ref, list *ArtifactList, local string) (string, error) {
	a := list.Artifacts[0]
	switch ref.Attr {
	case "path":
		return local, nil
	case "uri":
		return a.URI, nil
	case "metadata":
		if ref.Key != "" {
			return pipeline.FormatParameter(a.Metadata[ref.Key]), nil
		}
		b, err := json.Marshal(a.Metadata)
		return string(b), err
	case "value":
		b, err := os.ReadFile(local)
		return string(b), err
	case "":
		b, err := json.Marshal(list.Artifacts)
		return string(b), err
	}
	return "", fmt.Errorf("unsupported artifact attribute in %s", ref.Text)
}

// Result is a finished attempt's outputs.
type Result struct {
	// Params are the output parameters.
	Params map[string]any
	// Artifacts are the uploaded output artifacts.
	Artifacts map[string][]engine.Artifact
	// LogTail is the end of the command's output.
	LogTail string
	// Notes say how the task ran where that is worth telling (which kfp a
	// Python component used, settings the executor could not honour).
	Notes []string
}

// TaskError is a failed attempt, with the end of its output.
type TaskError struct {
	// Err is what went wrong.
	Err error
	// LogTail is the end of the command's output.
	LogTail string
	// Notes, as in Result.
	Notes []string
}

// Error includes the log tail so that a failure explains itself.
func (e *TaskError) Error() string {
	if e.LogTail == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v\n--- last output ---\n%s", e.Err, strings.TrimRight(e.LogTail, "\n"))
}

// Unwrap exposes the cause.
func (e *TaskError) Unwrap() error { return e.Err }

// Run stages inputs, runs the command and collects outputs; with
// cfg.KeepRecords it also keeps the output and a record of the attempt in
// the store (records.go).
func Run(ctx context.Context, run *engine.TaskRun, cfg Config, store *Store) (*Result, error) {
	if kind := run.Component.Executor.Kind; kind != pipeline.ExecContainer {
		if cfg.Mode != LocalMode {
			return nil, fmt.Errorf("task %q: %s tasks are performed by the controller, not in a pod", run.Path, kind)
		}
		res, err := localPVCTask(run)
		if err == nil && cfg.Log != nil {
			for _, n := range res.Notes {
				fmt.Fprintf(cfg.Log, "kfstack: %s\n", n)
			}
		}
		return res, err
	}
	if cfg.KeepRecords {
		return runRecorded(ctx, run, cfg, store)
	}
	return runAttempt(ctx, run, cfg, store)
}

func runAttempt(ctx context.Context, run *engine.TaskRun, cfg Config, store *Store) (*Result, error) {
	p, err := Prepare(run, cfg)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(p.work, "outputs")); err != nil {
		return nil, fmt.Errorf("cleaning outputs of task %q: %w", run.Path, err)
	}
	for _, dir := range []string{filepath.Join(p.work, "outputs", "parameters"), filepath.Join(p.work, "outputs", "artifacts")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	for _, in := range p.inputs {
		if storedAt(in.remote, in.local) {
			// A file:// root mounted in the pod at its own path: the
			// artifact is already where the component reads it, and
			// copying it onto itself would empty it.
			continue
		}
		if err := store.Download(ctx, in.remote, in.local); err != nil {
			return nil, fmt.Errorf("downloading input artifacts of task %q: %w", run.Path, err)
		}
	}
	for _, out := range p.outputs {
		if err := os.MkdirAll(filepath.Dir(out.local), 0o755); err != nil {
			return nil, fmt.Errorf("creating output directory of task %q: %w", run.Path, err)
		}
	}
	tail := &tailBuffer{max: cfg.LogTailBytes}
	if tail.max <= 0 {
		tail.max = 4096
	}
	var sink io.Writer = tail
	if cfg.Log != nil {
		sink = io.MultiWriter(tail, cfg.Log)
	}
	env := cfg.Env
	if env == nil {
		env = os.Environ()
	}
	env = mergeEnv(env, p.Env)
	argv := p.Argv
	var notes []string
	if pl := run.Placement; cfg.Mode == LocalMode && (pl.CPU != "" || pl.Memory != "" || pl.CPURequest != "" || pl.MemoryRequest != "" || pl.AcceleratorCount > 0) {
		notes = append(notes, fmt.Sprintf("the local executor does not reserve or limit resources (cpu %s, memory %s, %d accelerator(s) %s)",
			orNone(pl.CPU), orNone(pl.Memory), pl.AcceleratorCount, pl.AcceleratorType))
	}
	if cfg.Mode == LocalMode && run.Pod != nil {
		// A local process has no pod: say what it cannot have, and give
		// it the pod fields it can (its own labels and annotations).
		if missing := run.Pod.NotHonouredLocally(); len(missing) > 0 {
			notes = append(notes, "the local executor cannot honour this task's Kubernetes settings: "+strings.Join(missing, ", "))
		}
		for _, f := range run.Pod.FieldPathEnv {
			if v, ok := run.Pod.LocalFieldPath(f.FieldPath); ok {
				env = append(env, f.Name+"="+v)
			}
		}
	}
	pyComp, isPython := pyexec.Recognise(p.Argv)
	if isPython {
		var extra, pyNotes []string
		argv, extra, pyNotes, err = pythonPlan(ctx, pyComp, p.Argv, env, cfg)
		if err != nil {
			return nil, &TaskError{Err: err, Notes: notes}
		}
		env = mergeEnv(env, extra)
		notes = append(notes, pyNotes...)
	}
	for _, n := range notes {
		fmt.Fprintf(sink, "kfstack: %s\n", n)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = cfg.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = sink, sink
	// A process group lets a timeout or cancel stop the whole tree that a
	// `sh -c` started, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("stopped: %w", context.Cause(ctx))
		} else if tb := pythonTraceback(tail.String()); isPython && tb != "" {
			err = fmt.Errorf("%w: %s", err, tb)
		}
		return nil, &TaskError{Err: fmt.Errorf("running %s: %w", argv[0], err), LogTail: tail.String(), Notes: notes}
	}
	res, err := collect(ctx, run, p, cfg, store)
	if err != nil {
		return nil, &TaskError{Err: err, LogTail: tail.String(), Notes: notes}
	}
	res.LogTail = tail.String()
	res.Notes = notes
	return res, nil
}

// executorOutput is what kfp.dsl.executor_main writes to outputs.outputFile.
type executorOutput struct {
	ParameterValues map[string]any           `json:"parameterValues"`
	Artifacts       map[string]*ArtifactList `json:"artifacts"`
}

func collect(ctx context.Context, run *engine.TaskRun, p *Prepared, cfg Config, store *Store) (*Result, error) {
	res := &Result{Params: map[string]any{}, Artifacts: map[string][]engine.Artifact{}}
	var eo executorOutput
	if b, err := os.ReadFile(p.Input.Outputs.OutputFile); err == nil {
		if err := json.Unmarshal(b, &eo); err != nil {
			return nil, fmt.Errorf("reading executor output %s: %w", p.Input.Outputs.OutputFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading executor output: %w", err)
	}
	for _, name := range sortedKeys(run.Component.Outputs.Parameters) {
		def := run.Component.Outputs.Parameters[name]
		if v, ok := eo.ParameterValues[name]; ok {
			cv, err := pipeline.CoerceParameter(def.ParameterType, v)
			if err != nil {
				return nil, fmt.Errorf("output parameter %q: %w", name, err)
			}
			res.Params[name] = cv
			continue
		}
		file := p.Input.Outputs.Parameters[name].OutputFile
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("output parameter %q was not written to %s", name, file)
		}
		text := string(b)
		if def.ParameterType != pipeline.TypeString {
			text = strings.TrimSpace(text)
		}
		v, err := pipeline.ParseParameter(def.ParameterType, text)
		if err != nil {
			return nil, fmt.Errorf("output parameter %q: %w", name, err)
		}
		res.Params[name] = v
	}
	for _, name := range sortedKeys(p.outputs) {
		out := p.outputs[name]
		def := run.Component.Outputs.Artifacts[name]
		meta := map[string]any{}
		local := out.local
		if l := eo.Artifacts[name]; l != nil && len(l.Artifacts) > 0 {
			a := l.Artifacts[0]
			if a.Metadata != nil {
				meta = a.Metadata
			}
			// The component wrote the artifact elsewhere: set_path()
			// (custom_path) or an artifact it made and returned with
			// dsl.get_uri(). It is uploaded from there to its place.
			switch {
			case a.CustomPath != "":
				local = a.CustomPath
			case a.URI != "" && a.URI != p.Input.Outputs.Artifacts[name].Artifacts[0].URI:
				l := localPathOf(cfg.Mode, a.URI)
				if l == "" || (cfg.Mode == PodMode && !exists(l)) {
					// An artifact that lives elsewhere (a model image
					// in a registry, oci://): recorded, not uploaded.
					res.Artifacts[name] = []engine.Artifact{{Name: name, URI: a.URI, SchemaTitle: def.ArtifactType.SchemaTitle, Metadata: meta}}
					continue
				}
				local = l
			}
		}
		if !exists(local) && metricsTypes[def.ArtifactType.SchemaTitle] {
			// Metrics live in the artifact's metadata; the stored
			// artifact holds them too, as JSON.
			b, err := json.Marshal(meta)
			if err != nil {
				return nil, fmt.Errorf("output artifact %q: %w", name, err)
			}
			if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(local, b, 0o644); err != nil {
				return nil, fmt.Errorf("output artifact %q: %w", name, err)
			}
		}
		if !exists(local) {
			return nil, fmt.Errorf("output artifact %q was not written to %s", name, local)
		}
		if storedAt(out.remote, local) {
			res.Artifacts[name] = []engine.Artifact{{Name: name, URI: out.remote, SchemaTitle: def.ArtifactType.SchemaTitle, Metadata: meta}}
			continue
		}
		if err := store.Upload(ctx, local, out.remote); err != nil {
			return nil, fmt.Errorf("uploading output artifact %q: %w", name, err)
		}
		res.Artifacts[name] = []engine.Artifact{{Name: name, URI: out.remote, SchemaTitle: def.ArtifactType.SchemaTitle, Metadata: meta}}
	}
	return res, nil
}

// localPVCTask stands in for a CreatePVC or DeletePVC task on the local
// executor, which has no cluster: the claim's name is computed as the pod
// executor would, and nothing is created.
func localPVCTask(run *engine.TaskRun) (*Result, error) {
	req, err := NewPVCRequest(run)
	if err != nil {
		return nil, err
	}
	res := &Result{Params: map[string]any{}, Artifacts: map[string][]engine.Artifact{}}
	if run.Component.Executor.Kind == pipeline.ExecCreatePVC {
		res.Params["name"] = req.Name
		res.Notes = []string{fmt.Sprintf("the local executor creates no PersistentVolumeClaim: %s exists only by name, and tasks that mount it see no volume", req.Name)}
	} else {
		res.Notes = []string{fmt.Sprintf("the local executor deletes no PersistentVolumeClaim (%s)", req.Name)}
	}
	return res, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// storedAt reports whether a file:// artifact URI names the local path
// itself (a file:// pipeline root mounted in a task pod at its own path).
func storedAt(uri, local string) bool {
	p, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return false
	}
	if filepath.Clean(p) == filepath.Clean(local) {
		return true
	}
	a, errA := os.Stat(p)
	b, errB := os.Stat(local)
	return errA == nil && errB == nil && os.SameFile(a, b)
}

// metricsTypes are the artifact types whose content is their metadata.
var metricsTypes = map[string]bool{"system.Metrics": true, "system.ClassificationMetrics": true, "system.SlicedClassificationMetrics": true}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// localPathOf is the file behind an artifact URI a component reported:
// a local path, or a remote URI under KFP's mount points in a pod.
func localPathOf(mode Mode, uri string) string {
	if p, ok := strings.CutPrefix(uri, "file://"); ok {
		return p
	}
	if filepath.IsAbs(uri) {
		return uri
	}
	if mode == PodMode {
		if p := PodPath(uri); p != uri {
			return p
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(b)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
		rest := append([]byte(nil), t.buf.Bytes()...)
		t.buf.Reset()
		t.buf.Write(rest)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
