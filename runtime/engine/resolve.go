package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// scope is what the tasks of one DAG instance can read: the DAG's inputs.
type scope struct {
	params map[string]any
	arts   map[string][]Artifact
}

// missingInput is an input whose producer did not produce it (skipped by
// a condition); the consumer is skipped too rather than failed.
type missingInput struct{ msg string }

func (m *missingInput) Error() string { return m.msg }

// scopeOf returns the inputs of DAG instance d (the root, a DAG task or a
// loop iteration), memoised for the step.
func (st *stepper) scopeOf(d int32) (*scope, error) {
	if sc, ok := st.scopes[d]; ok {
		return sc, nil
	}
	s := st.s
	n := &s.Nodes[d]
	var sc *scope
	switch {
	case d == 0:
		sc = &scope{params: s.Params, arts: s.Inputs}
		if sc.arts == nil {
			sc.arts = map[string][]Artifact{}
		}
	case n.Iter >= 0:
		loop := &s.Nodes[n.Parent]
		lt := st.e.task(s, n.Parent)
		params, arts, err := st.resolve(loop.Parent, lt)
		if err != nil {
			return nil, err
		}
		sc = &scope{params: copyMap(params), arts: copyArts(arts)}
		if loop.ItemArtifacts != nil && int(n.Iter) < len(loop.ItemArtifacts) {
			sc.arts[lt.Loop.ItemInput] = []Artifact{loop.ItemArtifacts[n.Iter]}
		} else if items := loopItems(loop, lt); int(n.Iter) < len(items) {
			item := items[n.Iter]
			if def := lt.Component.Inputs.Parameters[lt.Loop.ItemInput]; def != nil && !st.e.opts.DryRun {
				v, err := pipeline.CoerceParameter(def.ParameterType, item)
				if err != nil {
					return nil, fmt.Errorf("loop item %d: %w", n.Iter, err)
				}
				item = v
			}
			sc.params[lt.Loop.ItemInput] = item
		}
	default:
		params, arts, err := st.resolve(n.Parent, st.e.task(s, d))
		if err != nil {
			return nil, err
		}
		sc = &scope{params: params, arts: arts}
	}
	st.scopes[d] = sc
	return sc, nil
}

// resolve computes the input parameters and artifacts of task t in DAG
// instance d, as KFP's driver does: bindings first, then defaults, then
// placeholders inside constants.
func (st *stepper) resolve(d int32, t *pipeline.Task) (map[string]any, map[string][]Artifact, error) {
	sc, err := st.scopeOf(d)
	if err != nil {
		return nil, nil, err
	}
	comp := t.Component
	producer := st.producerIn(d)
	params := map[string]any{}
	arts := map[string][]Artifact{}
	var constants []string
	ins := t.Spec.Inputs
	if ins == nil {
		ins = &pipeline.TaskInputsSpec{}
	}
	for name, b := range ins.Parameters {
		def := comp.Inputs.Parameters[name]
		optional := def != nil && (def.IsOptional || def.DefaultValue != nil)
		v, ok := st.bindingValue(sc, producer, b)
		switch {
		case ok:
		case b.ComponentInputParameter != "":
			if optional || def == nil {
				continue
			}
			return nil, nil, &missingInput{fmt.Sprintf("input %q: the enclosing DAG's input %q has no value", name, b.ComponentInputParameter)}
		case b.TaskOutputParameter != nil:
			if optional {
				continue
			}
			return nil, nil, &missingInput{fmt.Sprintf("input %q: task %q produced no output %q", name, b.TaskOutputParameter.ProducerTask, b.TaskOutputParameter.OutputParameterKey)}
		}
		if b.RuntimeValue != nil && hasPlaceholder(v) {
			constants = append(constants, name)
		}
		if prg := t.Selectors[name]; prg != nil {
			sel, err := pipeline.EvalSelector(prg, v)
			if err != nil {
				if !st.e.opts.DryRun {
					return nil, nil, fmt.Errorf("input %q: %w", name, err)
				}
				sel = fmt.Sprintf("%s|%s", pipeline.FormatParameter(v), b.ParameterExpressionSelector)
			}
			v = sel
		}
		if def != nil && !contains(constants, name) && !st.symbolic(v) {
			cv, err := pipeline.CoerceParameter(def.ParameterType, v)
			if err != nil {
				return nil, nil, fmt.Errorf("input %q: %w", name, err)
			}
			v = cv
		}
		params[name] = v
	}
	for name, def := range comp.Inputs.Parameters {
		if _, ok := params[name]; !ok && def.DefaultValue != nil {
			params[name] = def.DefaultValue
			if hasPlaceholder(def.DefaultValue) {
				// Google's components default inputs to run placeholders.
				constants = append(constants, name)
			}
		}
	}
	for _, name := range constants {
		v, err := st.substituteValue(params[name], params, t)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", name, err)
		}
		if def := comp.Inputs.Parameters[name]; def != nil && !st.symbolic(v) {
			if v, err = pipeline.CoerceParameter(def.ParameterType, v); err != nil {
				return nil, nil, fmt.Errorf("input %q: %w", name, err)
			}
		}
		params[name] = v
	}
	for name, b := range ins.Artifacts {
		def := comp.Inputs.Artifacts[name]
		switch {
		case b.TaskOutputArtifact != nil:
			p := producer(b.TaskOutputArtifact.ProducerTask)
			var list []Artifact
			if p != nil && p.Phase == Succeeded {
				list = p.Artifacts[b.TaskOutputArtifact.OutputArtifactKey]
			}
			if len(list) == 0 {
				if def != nil && def.IsOptional {
					continue
				}
				return nil, nil, &missingInput{fmt.Sprintf("input artifact %q: task %q produced no artifact %q", name, b.TaskOutputArtifact.ProducerTask, b.TaskOutputArtifact.OutputArtifactKey)}
			}
			arts[name] = list
		case b.ComponentInputArtifact != "":
			list, ok := sc.arts[b.ComponentInputArtifact]
			if !ok {
				if def != nil && def.IsOptional {
					continue
				}
				return nil, nil, &missingInput{fmt.Sprintf("input artifact %q: the enclosing DAG's artifact %q has no value", name, b.ComponentInputArtifact)}
			}
			arts[name] = list
		}
	}
	return params, arts, nil
}

// bindingValue is the value of one parameter binding in DAG scope sc;
// ok is false when its source produced nothing (an unset optional input,
// a skipped producer).
func (st *stepper) bindingValue(sc *scope, producer func(string) *Node, b *pipeline.InputParameterSpec) (any, bool) {
	switch {
	case b.ComponentInputParameter != "":
		v, ok := sc.params[b.ComponentInputParameter]
		return v, ok
	case b.TaskOutputParameter != nil:
		p := producer(b.TaskOutputParameter.ProducerTask)
		if p == nil || p.Phase != Succeeded {
			return nil, false
		}
		v, ok := p.Params[b.TaskOutputParameter.OutputParameterKey]
		return v, ok
	case b.RuntimeValue != nil:
		return b.RuntimeValue.Constant, true
	case b.TaskFinalStatus != nil:
		return st.finalStatus(producer(b.TaskFinalStatus.ProducerTask), b.TaskFinalStatus.ProducerTask), true
	}
	return nil, false
}

// podConfig resolves the Kubernetes config of task t in DAG instance d.
func (st *stepper) podConfig(d int32, t *pipeline.Task) (*pipeline.PodConfig, error) {
	if t.Kubernetes == nil {
		return nil, nil
	}
	sc, err := st.scopeOf(d)
	if err != nil {
		return nil, err
	}
	producer := st.producerIn(d)
	return t.Kubernetes.Resolve(func(b *pipeline.InputParameterSpec) pipeline.PlatformValue {
		v, ok := st.bindingValue(sc, producer, b)
		if ok && st.symbolic(v) {
			return pipeline.PlatformValue{Value: "dry-run-value", OK: true}
		}
		return pipeline.PlatformValue{Value: v, OK: ok}
	})
}

// producerIn returns the node of a sibling task in DAG instance d.
func (st *stepper) producerIn(d int32) func(string) *Node {
	s := st.s
	first := s.Nodes[d].First
	dag := st.e.dagOf(s, d)
	return func(name string) *Node {
		pt := dag.Task(name)
		if pt == nil || first < 0 {
			return nil
		}
		return &s.Nodes[first+int32(pt.Index)]
	}
}

// symbolic reports a dry-run stand-in value, which is not type checked.
func (st *stepper) symbolic(v any) bool {
	if !st.e.opts.DryRun {
		return false
	}
	s, ok := v.(string)
	return ok && strings.Contains(s, "{{")
}

// hasPlaceholder reports a constant with a placeholder anywhere in it (a
// string, or a string inside a list or struct constant).
func hasPlaceholder(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "{{$")
	case []any:
		for _, e := range x {
			if hasPlaceholder(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasPlaceholder(e) {
				return true
			}
		}
	}
	return false
}

// substituteValue expands placeholders in a constant, inside lists and
// structs too (a list of worker specs whose fields take other inputs).
func (st *stepper) substituteValue(v any, params map[string]any, t *pipeline.Task) (any, error) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{$") {
			return x, nil
		}
		return st.substitute(x, params, t)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := st.substituteValue(e, params, t)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := st.substituteValue(e, params, t)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// substitute expands the placeholders KFP allows inside constants: other
// input parameters of the same task and the run-scoped values.
func (st *stepper) substitute(text string, params map[string]any, t *pipeline.Task) (string, error) {
	segs, err := pipeline.ParseText(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, sg := range segs {
		if sg.Ref == nil {
			b.WriteString(sg.Literal)
			continue
		}
		switch sg.Ref.Kind {
		case pipeline.RefInputParameter:
			v, ok := params[sg.Ref.Name]
			if !ok {
				return "", fmt.Errorf("placeholder %s: no value", sg.Ref.Text)
			}
			b.WriteString(pipeline.FormatParameter(v))
		case pipeline.RefRuntime:
			b.WriteString(RuntimeValue(sg.Ref.Name, st.s.RunID, st.s.RunUID, time.UnixMilli(st.s.Start), t.Name, "", st.e.opts.PipelineRoot, st.e.opts.WorkspacePath))
		default:
			return "", fmt.Errorf("placeholder %s is not allowed in a constant", sg.Ref.Text)
		}
	}
	return b.String(), nil
}

// RuntimeValue returns the value of a run-scoped placeholder such as
// pipeline_job_name. runUID is the run's unique ID (the job UUID; the
// name stands in where there is none); taskID may be empty outside a task.
func RuntimeValue(name, runID, runUID string, start time.Time, taskName, taskID, root, workspace string) string {
	switch name {
	case pipeline.RuntimeJobName, pipeline.RuntimeJobResourceName:
		return runID
	case pipeline.RuntimeJobUUID:
		return RunDir(runID, runUID)
	case pipeline.RuntimeTaskName:
		return taskName
	case pipeline.RuntimeTaskUUID:
		if taskID == "" {
			return RunDir(runID, runUID) + "-" + taskName
		}
		return taskID
	case pipeline.RuntimeJobCreateTime, pipeline.RuntimeJobScheduleTime:
		return start.UTC().Format(time.RFC3339)
	case pipeline.RuntimePipelineRoot:
		return root
	case pipeline.RuntimeWorkspacePath:
		return workspace
	}
	return ""
}

// finalStatus is the PipelineTaskFinalStatus value handed to an exit
// handler, in the JSON shape KFP's executor reads.
func (st *stepper) finalStatus(n *Node, name string) map[string]any {
	state := "SUCCEEDED"
	if n != nil {
		switch n.Phase {
		case Failed:
			state = "FAILED"
		case Cancelled:
			state = "CANCELLED"
		case Skipped:
			state = "SKIPPED"
		}
	}
	out := map[string]any{
		"state":                   state,
		"pipelineJobResourceName": st.s.RunID,
		"pipelineTaskName":        name,
	}
	if n != nil && n.Phase == Failed {
		out["error"] = map[string]any{"code": 2.0, "message": n.Message}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyArts(m map[string][]Artifact) map[string][]Artifact {
	out := make(map[string][]Artifact, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Outputs returns the run's outputs (the root DAG's outputs).
func (s *State) Outputs() (map[string]any, map[string][]Artifact) {
	if len(s.Nodes) == 0 {
		return nil, nil
	}
	return s.Nodes[0].Params, s.Nodes[0].Artifacts
}

// loopItems are a loop's items: resolved ones from the state, literal ones
// from the plan.
func loopItems(loop *Node, t *pipeline.Task) []any {
	if loop.Items != nil {
		return loop.Items
	}
	return t.Loop.Raw
}
