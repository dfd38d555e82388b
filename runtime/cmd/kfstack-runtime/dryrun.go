package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// dryExecutor "runs" a task by resolving its command line and reporting
// symbolic outputs, so the engine walks the whole graph in execution order
// without running anything.
type dryExecutor struct {
	cfg    launcher.Config
	out    io.Writer
	events chan engine.Event
	n      int
	err    error
}

func (d *dryExecutor) Events() <-chan engine.Event { return d.events }
func (d *dryExecutor) Cancel(engine.Action)        {}

func (d *dryExecutor) Start(_ context.Context, a engine.Action) {
	ev := engine.Event{Kind: engine.TaskFinished, Node: a.Node, Attempt: a.Attempt, Succeeded: true,
		Params: map[string]any{}, Artifacts: map[string][]engine.Artifact{}}
	if kind := a.Task.Component.Executor.Kind; kind != pipeline.ExecContainer {
		d.pvcTask(a, &ev)
		d.events <- ev
		return
	}
	p, err := launcher.Prepare(a.Task, d.cfg)
	if err != nil {
		d.err = err
		ev.Succeeded, ev.Message = false, err.Error()
		d.events <- ev
		return
	}
	d.n++
	fmt.Fprintf(d.out, "%d. %s\n", d.n, a.Task.Path)
	fmt.Fprintf(d.out, "   image:   %s\n", p.Image)
	if t := a.Task.Task; t.ConditionText != "" {
		fmt.Fprintf(d.out, "   when:    %s\n", t.ConditionText)
	}
	if t := a.Task.Task; t.RunsOnUpstreamFailure {
		fmt.Fprintf(d.out, "   exit handler: runs whatever its upstream did\n")
	}
	if t := a.Task.Task; t.Retry.MaxRetries > 0 {
		fmt.Fprintf(d.out, "   retries: %d\n", t.Retry.MaxRetries)
	}
	if len(p.Env) > 0 {
		fmt.Fprintf(d.out, "   env:     %s\n", strings.Join(p.Env, " "))
	}
	fmt.Fprintf(d.out, "   command: %s\n", shellJoin(p.Argv))
	if pl := a.Task.Placement; pl.CPU != "" || pl.Memory != "" || pl.AcceleratorCount > 0 {
		fmt.Fprintf(d.out, "   resources: cpu %s memory %s accelerator %d %s\n", orDash(pl.CPU), orDash(pl.Memory), pl.AcceleratorCount, pl.AcceleratorType)
	}
	if pod := a.Task.Pod; !pod.Empty() {
		b, _ := json.Marshal(pod)
		fmt.Fprintf(d.out, "   kubernetes: %s\n", b)
	}
	for name := range a.Task.Component.Outputs.Parameters {
		ev.Params[name] = fmt.Sprintf("{{%s.%s}}", a.Task.Path, name)
	}
	for name, def := range a.Task.Component.Outputs.Artifacts {
		ev.Artifacts[name] = []engine.Artifact{{Name: name, URI: launcher.ArtifactURI(d.cfg.PipelineRoot, a.Task, name), SchemaTitle: def.ArtifactType.SchemaTitle}}
	}
	d.events <- ev
}

func dryRun(eng *engine.Engine, s *engine.State, cfg launcher.Config, out io.Writer) int {
	fmt.Fprintf(out, "pipeline %q: dry run, nothing is executed; values from upstream tasks show as {{task.output}}\n", eng.Plan().Name)
	d := &dryExecutor{cfg: cfg, out: out, events: make(chan engine.Event, 4)}
	eng.Drive(context.Background(), s, d, nil, func(s *engine.State, c engine.Change) {
		if c.Node == 0 || eng.IsContainer(s, c.Node) {
			return
		}
		t := eng.Task(s, c.Node)
		path := eng.Path(s, c.Node)
		switch {
		case c.Phase == engine.Running && t != nil && t.Loop != nil && s.Nodes[c.Node].Iter < 0:
			fmt.Fprintf(out, "-- %s: ParallelFor over %d item(s)", path, s.Nodes[c.Node].Count)
			if t.Loop.ParallelismLimit > 0 {
				fmt.Fprintf(out, ", parallelism %d", t.Loop.ParallelismLimit)
			}
			fmt.Fprintln(out)
		case c.Phase == engine.Running && t != nil && s.Nodes[c.Node].Iter < 0 && t.ConditionText != "":
			fmt.Fprintf(out, "-- %s: runs when %s\n", path, t.ConditionText)
		case c.Phase == engine.Running && t != nil && s.Nodes[c.Node].Iter < 0 && t.RunsOnUpstreamFailure:
			fmt.Fprintf(out, "-- %s: exit handler, runs whatever its upstream did\n", path)
		case c.Phase == engine.Failed || c.Phase == engine.Skipped:
			fmt.Fprintf(out, "-- %s: %s: %s\n", path, c.Phase, c.Message)
		}
	})
	if d.err != nil || s.Phase != engine.RunSucceeded {
		fmt.Fprintf(out, "dry run failed: %s\n", s.Message)
		return 1
	}
	fmt.Fprintf(out, "%d task(s) would run\n", d.n)
	return 0
}

// pvcTask prints what a CreatePVC or DeletePVC task would do.
func (d *dryExecutor) pvcTask(a engine.Action, ev *engine.Event) {
	d.n++
	fmt.Fprintf(d.out, "%d. %s\n", d.n, a.Task.Path)
	req, err := launcher.NewPVCRequest(a.Task)
	if err != nil {
		// Inputs from upstream tasks are symbolic in a dry run.
		req = &launcher.PVCRequest{Name: fmt.Sprintf("{{%s.name}}", a.Task.Path)}
	}
	if a.Task.Component.Executor.Kind == pipeline.ExecDeletePVC {
		fmt.Fprintf(d.out, "   deletes PersistentVolumeClaim %s\n", req.Name)
		return
	}
	fmt.Fprintf(d.out, "   creates PersistentVolumeClaim %s (%s, %s)\n", req.Name, orDash(req.Size), strings.Join(req.AccessModes, ","))
	ev.Params["name"] = req.Name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shellJoin quotes arguments the way a POSIX shell would read them back.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, needsQuoting) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// needsQuoting reports a rune a shell would treat specially.
func needsQuoting(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("-_./=:,@+", r)
}
