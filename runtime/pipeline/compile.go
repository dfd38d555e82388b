package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"gopkg.in/yaml.v3"
)

// channelPrefix marks the inputs the KFP compiler adds to carry values into
// nested DAGs and into constants; components do not declare all of them.
const channelPrefix = "pipelinechannel--"

// Load parses and compiles a KFP pipeline file.
func Load(data []byte) (*Plan, error) {
	doc, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Compile(doc)
}

// Compile validates a parsed KFP document and compiles it into a Plan. All
// problems are returned together as an ErrorList.
func Compile(doc *Document) (*Plan, error) {
	c := &compiler{spec: doc.Spec, sink: &errorSink{lines: doc.lines}, plan: &Plan{Components: map[string]*Component{}}}
	c.platform = kubernetesExecutorConfig(doc.PlatformSpec)
	return c.compile()
}

type compiler struct {
	spec     *Spec
	sink     *errorSink
	plan     *Plan
	platform map[string]platformExecutor
	// native carries per-task extras of a native DAG (timeout, placement)
	// that the KFP spec has no field for.
	native map[string]*NativeTask
}

func (c *compiler) compile() (*Plan, error) {
	s := c.spec
	if s.Info.Name == "" {
		c.sink.add("", "", "pipelineInfo.name", "pipelineInfo", "a pipeline needs a name")
	} else if err := CheckPathName(s.Info.Name); err != nil {
		c.sink.add("", "", "pipelineInfo.name", "pipelineInfo.name", "%v", err)
	}
	if s.Root == nil || s.Root.DAG == nil {
		c.sink.add("", "", "root.dag", "root", "the pipeline has no root DAG")
		return nil, c.sink.err()
	}
	c.plan.Name = s.Info.Name
	c.plan.Source = s
	c.plan.DefaultPipelineRoot = s.DefaultPipelineRoot
	// Declare every component first so that task references resolve in any order.
	names := make([]string, 0, len(s.Components))
	for name := range s.Components {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == rootComponent {
			c.sink.add(name, "", "components", "components."+name, "component name %q is reserved", name)
			continue
		}
		c.plan.Components[name] = c.declare(name, s.Components[name])
	}
	c.plan.Root = c.declare(rootComponent, s.Root)
	c.plan.Components[rootComponent] = c.plan.Root
	for _, name := range names {
		if comp := c.plan.Components[name]; comp != nil {
			c.define(comp, s.Components[name], "components."+name)
		}
	}
	c.define(c.plan.Root, s.Root, "root")
	if err := c.sink.err(); err != nil {
		c.attributeToTasks()
		return nil, err
	}
	return c.plan, nil
}

// attributeToTasks names a task for problems found in a leaf component's
// definition (its executor, its placeholders), because users think in
// tasks: the first task (by DAG, then name) that runs the component.
func (c *compiler) attributeToTasks() {
	type user struct{ dag, task string }
	users := map[string]user{}
	dags := map[string]*DAGSpec{}
	if c.spec.Root != nil && c.spec.Root.DAG != nil {
		dags[rootComponent] = c.spec.Root.DAG
	}
	for name, comp := range c.spec.Components {
		if comp != nil && comp.DAG != nil {
			dags[name] = comp.DAG
		}
	}
	for _, dn := range sortedKeys(dags) {
		for _, tn := range sortedKeys(dags[dn].Tasks) {
			if t := dags[dn].Tasks[tn]; t != nil {
				if _, seen := users[t.ComponentRef.Name]; !seen {
					users[t.ComponentRef.Name] = user{dn, tn}
				}
			}
		}
	}
	for _, e := range c.sink.errs {
		comp := c.spec.Components[e.Component]
		if e.Task != "" || comp == nil || comp.DAG != nil {
			continue
		}
		if u, ok := users[e.Component]; ok {
			e.Component, e.Task = u.dag, u.task
		}
	}
}

func (c *compiler) declare(name string, spec *ComponentSpec) *Component {
	comp := &Component{Name: name}
	if spec == nil {
		spec = &ComponentSpec{}
	}
	if spec.InputDefinitions != nil {
		comp.Inputs = *spec.InputDefinitions
	}
	if spec.OutputDefinitions != nil {
		comp.Outputs = *spec.OutputDefinitions
	}
	if comp.Inputs.Parameters == nil {
		comp.Inputs.Parameters = map[string]*ParameterSpec{}
	}
	if comp.Inputs.Artifacts == nil {
		comp.Inputs.Artifacts = map[string]*ArtifactSpec{}
	}
	if comp.Outputs.Parameters == nil {
		comp.Outputs.Parameters = map[string]*ParameterSpec{}
	}
	if comp.Outputs.Artifacts == nil {
		comp.Outputs.Artifacts = map[string]*ArtifactSpec{}
	}
	return comp
}

func (c *compiler) define(comp *Component, spec *ComponentSpec, path string) {
	if spec == nil {
		c.sink.add(comp.Name, "", "component", path, "component is empty")
		return
	}
	c.checkDefinitions(comp, path)
	switch {
	case spec.DAG != nil && spec.ExecutorLabel != "":
		c.sink.add(comp.Name, "", "executorLabel", path+".executorLabel", "a component has either a DAG or an executor, not both")
	case spec.DAG != nil:
		comp.DAG = c.compileDAG(comp, spec.DAG, path+".dag")
	case spec.ExecutorLabel != "":
		comp.Executor = c.compileExecutor(comp, spec.ExecutorLabel, path+".executorLabel")
	default:
		c.sink.add(comp.Name, "", "executorLabel", path, "component has neither a DAG nor an executor")
	}
	digest := sha256.New()
	enc := json.NewEncoder(digest)
	_ = enc.Encode(spec)
	if comp.Executor != nil {
		_ = enc.Encode(c.spec.DeploymentSpec.Executors[comp.Executor.Label])
	}
	comp.Digest = hex.EncodeToString(digest.Sum(nil))
}

func (c *compiler) checkDefinitions(comp *Component, path string) {
	for _, dir := range []struct {
		name string
		defs InterfaceDefinitions
	}{{"inputDefinitions", comp.Inputs}, {"outputDefinitions", comp.Outputs}} {
		for _, name := range sortedKeys(dir.defs.Parameters) {
			p := dir.defs.Parameters[name]
			field := fmt.Sprintf("%s.parameters[%q]", dir.name, name)
			fpath := path + "." + dir.name + ".parameters." + name
			if err := CheckPathName(name); err != nil {
				c.sink.add(comp.Name, "", field, fpath, "%v", err)
			}
			if p == nil || !p.ParameterType.Valid() {
				t := ParameterType("")
				if p != nil {
					t = p.ParameterType
				}
				c.sink.add(comp.Name, "", field, fpath, "unknown parameter type %q", t)
				continue
			}
			if p.DefaultValue != nil {
				v, err := CoerceParameter(p.ParameterType, p.DefaultValue)
				if err != nil {
					c.sink.add(comp.Name, "", field+".defaultValue", fpath+".defaultValue", "default does not match type %s: %v", p.ParameterType, err)
				} else {
					p.DefaultValue = v
				}
			}
		}
		for _, name := range sortedKeys(dir.defs.Artifacts) {
			if err := CheckPathName(name); err != nil {
				c.sink.add(comp.Name, "", fmt.Sprintf("%s.artifacts[%q]", dir.name, name), path+"."+dir.name+".artifacts."+name, "%v", err)
			}
			if a := dir.defs.Artifacts[name]; a == nil || a.ArtifactType.SchemaTitle == "" {
				c.sink.add(comp.Name, "", fmt.Sprintf("%s.artifacts[%q]", dir.name, name), path+"."+dir.name+".artifacts."+name, "artifact needs artifactType.schemaTitle")
			}
		}
	}
}

func (c *compiler) compileExecutor(comp *Component, label, path string) *Executor {
	spec, ok := c.spec.DeploymentSpec.Executors[label]
	if !ok || spec == nil {
		c.sink.add(comp.Name, "", "executorLabel", path, "unknown executor %q", label)
		return nil
	}
	ex := &Executor{Label: label, Container: spec.Container, Importer: spec.Importer}
	epath := "deploymentSpec.executors." + label
	switch {
	case spec.Container != nil && spec.Importer != nil:
		c.sink.add(comp.Name, "", "executor", epath, "executor %q has both a container and an importer", label)
	case spec.Container != nil:
		ct := spec.Container
		if ct.Image == "" {
			c.sink.add(comp.Name, "", "container.image", epath+".container", "executor %q has no image", label)
		}
		if len(ct.Command) == 0 && len(ct.Args) == 0 {
			c.sink.add(comp.Name, "", "container.command", epath+".container", "executor %q has neither command nor args", label)
		}
		ex.Command = c.parseArgs(comp, ct.Command, "container.command", epath+".container.command")
		ex.Args = c.parseArgs(comp, ct.Args, "container.args", epath+".container.args")
		for i, e := range ct.Env {
			field := fmt.Sprintf("container.env[%d]", i)
			if e.Name == "" {
				c.sink.add(comp.Name, "", field, fmt.Sprintf("%s.container.env.%d", epath, i), "environment variable has no name")
			}
			a := c.parseArgs(comp, []string{e.Value}, field, fmt.Sprintf("%s.container.env.%d", epath, i))
			if len(a) == 1 {
				ex.Env = append(ex.Env, EnvTemplate{Name: e.Name, Value: a[0]})
			}
		}
	case spec.Importer != nil:
		im := spec.Importer
		if im.ArtifactURI.Constant == "" && im.ArtifactURI.RuntimeParameter == "" {
			c.sink.add(comp.Name, "", "importer.artifactUri", epath+".importer", "importer needs a constant URI or a runtime parameter")
		}
		if p := im.ArtifactURI.RuntimeParameter; p != "" {
			if _, ok := comp.Inputs.Parameters[p]; !ok {
				c.sink.add(comp.Name, "", "importer.artifactUri.runtimeParameter", epath+".importer.artifactUri", "component declares no input parameter %q", p)
			}
		}
		if len(comp.Outputs.Artifacts) != 1 {
			c.sink.add(comp.Name, "", "outputDefinitions.artifacts", epath+".importer", "an importer component declares exactly one output artifact, found %d", len(comp.Outputs.Artifacts))
		}
	default:
		c.sink.add(comp.Name, "", "executor", epath, "executor %q has neither a container nor an importer", label)
	}
	return ex
}

func (c *compiler) parseArgs(comp *Component, list []string, field, path string) []*Arg {
	out := make([]*Arg, 0, len(list))
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		p := fmt.Sprintf("%s.%d", path, i)
		a, err := ParseArg(s)
		if err != nil {
			c.sink.add(comp.Name, "", f, p, "%v", err)
			continue
		}
		for _, r := range a.Refs() {
			if msg := checkRef(comp, r); msg != "" {
				c.sink.add(comp.Name, "", f, p, "%s", msg)
			}
		}
		for _, n := range a.IfPresentNames() {
			_, isParam := comp.Inputs.Parameters[n]
			_, isArt := comp.Inputs.Artifacts[n]
			if !isParam && !isArt {
				c.sink.add(comp.Name, "", f, p, "IfPresent refers to %q, which is not an input of the component", n)
			}
		}
		out = append(out, a)
	}
	return out
}

// checkRef reports a placeholder that names something the component does
// not declare.
func checkRef(comp *Component, r *Ref) string {
	switch r.Kind {
	case RefInputParameter:
		if _, ok := comp.Inputs.Parameters[r.Name]; !ok {
			return fmt.Sprintf("placeholder %s: no input parameter %q", r.Text, r.Name)
		}
	case RefInputArtifact:
		if _, ok := comp.Inputs.Artifacts[r.Name]; !ok {
			return fmt.Sprintf("placeholder %s: no input artifact %q", r.Text, r.Name)
		}
	case RefOutputParameter:
		if _, ok := comp.Outputs.Parameters[r.Name]; !ok {
			return fmt.Sprintf("placeholder %s: no output parameter %q", r.Text, r.Name)
		}
	case RefOutputArtifact:
		if _, ok := comp.Outputs.Artifacts[r.Name]; !ok {
			return fmt.Sprintf("placeholder %s: no output artifact %q", r.Text, r.Name)
		}
	}
	return ""
}

func (c *compiler) compileDAG(comp *Component, spec *DAGSpec, path string) *DAG {
	dag := &DAG{Outputs: spec.Outputs, index: map[string]int{}}
	names := sortedKeys(spec.Tasks)
	if len(names) == 0 {
		c.sink.add(comp.Name, "", "dag.tasks", path, "DAG has no tasks")
	}
	tasks := map[string]*Task{}
	for _, name := range names {
		tasks[name] = &Task{Name: name, Spec: spec.Tasks[name]}
	}
	deps := map[string][]string{}
	for _, name := range names {
		t := tasks[name]
		tpath := path + ".tasks." + name
		if err := CheckPathName(name); err != nil {
			c.sink.add(comp.Name, name, "name", tpath, "task name %v", err)
		}
		if t.Spec == nil {
			c.sink.add(comp.Name, name, "task", tpath, "task is empty")
			continue
		}
		deps[name] = c.compileTask(comp, t, tasks, tpath)
	}
	order, cycle := topoSort(names, deps)
	if cycle != nil {
		c.sink.add(comp.Name, cycle[0], "dependentTasks", path+".tasks."+cycle[0]+".dependentTasks", "dependency cycle: %s", strings.Join(cycle, " -> "))
		order = names
	}
	for i, name := range order {
		t := tasks[name]
		t.Index = i
		dag.Tasks = append(dag.Tasks, t)
		dag.index[name] = i
	}
	for _, t := range dag.Tasks {
		for _, d := range deps[t.Name] {
			if i, ok := dag.index[d]; ok {
				t.Deps = append(t.Deps, i)
			}
		}
		sort.Ints(t.Deps)
	}
	c.checkDAGOutputs(comp, dag, path+".outputs")
	return dag
}

// compileTask validates one task and returns the names of the tasks it
// depends on.
func (c *compiler) compileTask(comp *Component, t *Task, siblings map[string]*Task, path string) []string {
	ts := t.Spec
	add := func(field, sub, format string, args ...any) {
		p := path
		if sub != "" {
			p = path + "." + sub
		}
		c.sink.add(comp.Name, t.Name, field, p, format, args...)
	}
	target := c.plan.Components[ts.ComponentRef.Name]
	switch {
	case ts.ComponentRef.Name == "":
		add("componentRef.name", "componentRef", "task names no component")
	case target == nil:
		add("componentRef.name", "componentRef.name", "unknown component %q", ts.ComponentRef.Name)
	case target == comp:
		add("componentRef.name", "componentRef.name", "a DAG cannot contain itself")
	}
	t.Component = target
	depSet := map[string]bool{}
	for i, d := range ts.DependentTasks {
		switch {
		case d == t.Name:
			add(fmt.Sprintf("dependentTasks[%d]", i), "dependentTasks", "task depends on itself")
		case siblings[d] == nil:
			add(fmt.Sprintf("dependentTasks[%d]", i), "dependentTasks", "unknown task %q", d)
		default:
			depSet[d] = true
		}
	}
	if tp := ts.TriggerPolicy; tp != nil {
		switch tp.Strategy {
		case "", StrategyAllUpstreamSucceeded, "TRIGGER_STRATEGY_UNSPECIFIED":
		case StrategyAllUpstreamCompleted:
			t.RunsOnUpstreamFailure = true
		default:
			add("triggerPolicy.strategy", "triggerPolicy.strategy", "unknown trigger strategy %q", tp.Strategy)
		}
		if tp.Condition != "" {
			prg, err := CompileCondition(tp.Condition)
			if err != nil {
				add("triggerPolicy.condition", "triggerPolicy.condition", "%v", err)
			}
			t.Condition, t.ConditionText = prg, tp.Condition
		}
	}
	if cache := ts.CachingOptions; cache != nil {
		t.Cache = cache.EnableCache
	}
	if rp := ts.RetryPolicy; rp != nil {
		t.Retry = c.compileRetry(rp, func(field, format string, args ...any) {
			add("retryPolicy."+field, "retryPolicy."+field, format, args...)
		})
	}
	c.compileLoop(t, add)
	if target != nil && target.Executor != nil {
		if pe, ok := c.platform[target.Executor.Label]; ok {
			t.Placement.NodeSelector = pe.NodeSelector
			t.Placement.Tolerations = pe.Tolerations
			if pe.ActiveDeadlineSeconds > 0 {
				t.Timeout = time.Duration(pe.ActiveDeadlineSeconds) * time.Second
			}
		}
		if ct := target.Executor.Container; ct != nil && ct.Resources != nil {
			t.Placement = mergeResources(t.Placement, ct.Resources)
		}
	}
	if n := c.native[t.Name]; n != nil && comp.Name == rootComponent {
		t.Timeout = n.timeout
		t.Placement = n.placement
	}
	c.compileInputs(comp, t, siblings, depSet, add)
	out := make([]string, 0, len(depSet))
	for d := range depSet {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func (c *compiler) compileRetry(rp *RetryPolicy, add func(field, format string, args ...any)) Retry {
	r := Retry{MaxRetries: rp.MaxRetryCount, Factor: rp.BackoffFactor}
	if rp.MaxRetryCount < 0 {
		add("maxRetryCount", "must not be negative, is %d", rp.MaxRetryCount)
	}
	if rp.BackoffFactor < 0 {
		add("backoffFactor", "must not be negative, is %v", rp.BackoffFactor)
	}
	parse := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			add(field, "invalid duration %q", s)
			return 0
		}
		return d
	}
	r.Backoff = parse("backoffDuration", rp.BackoffDuration)
	r.MaxBackoff = parse("backoffMaxDuration", rp.BackoffMaxDuration)
	return r
}

func (c *compiler) compileLoop(t *Task, add func(field, sub, format string, args ...any)) {
	ts := t.Spec
	if ts.ParameterIterator == nil && ts.ArtifactIterator == nil {
		if ts.IteratorPolicy != nil {
			add("iteratorPolicy", "iteratorPolicy", "iteratorPolicy without a parameterIterator or artifactIterator")
		}
		return
	}
	if ts.ParameterIterator != nil && ts.ArtifactIterator != nil {
		add("parameterIterator", "parameterIterator", "a task has either a parameterIterator or an artifactIterator, not both")
		return
	}
	loop := &Loop{}
	if ts.IteratorPolicy != nil {
		if ts.IteratorPolicy.ParallelismLimit < 0 {
			add("iteratorPolicy.parallelismLimit", "iteratorPolicy.parallelismLimit", "must not be negative, is %d", ts.IteratorPolicy.ParallelismLimit)
		}
		loop.ParallelismLimit = ts.IteratorPolicy.ParallelismLimit
	}
	if t.Component != nil && t.Component.DAG == nil && t.Component.Executor != nil {
		add("componentRef.name", "componentRef", "a ParallelFor task must run a DAG component")
	}
	var declared bool
	if pi := ts.ParameterIterator; pi != nil {
		loop.ItemInput = pi.ItemInput
		switch {
		case pi.Items.Raw != "" && pi.Items.InputParameter != "":
			add("parameterIterator.items", "parameterIterator.items", "items has both raw and inputParameter")
		case pi.Items.Raw != "":
			var items any
			if err := json.Unmarshal([]byte(pi.Items.Raw), &items); err != nil {
				add("parameterIterator.items.raw", "parameterIterator.items.raw", "items are not JSON: %v", err)
			} else if list, ok := items.([]any); !ok {
				add("parameterIterator.items.raw", "parameterIterator.items.raw", "items must be a JSON list, got %s", describe(items))
			} else {
				loop.Raw = list
			}
		case pi.Items.InputParameter != "":
			loop.InputParameter = pi.Items.InputParameter
			if ts.Inputs == nil || ts.Inputs.Parameters[pi.Items.InputParameter] == nil {
				add("parameterIterator.items.inputParameter", "parameterIterator.items.inputParameter", "task binds no input parameter %q", pi.Items.InputParameter)
			}
		default:
			add("parameterIterator.items", "parameterIterator", "items needs raw or inputParameter")
		}
		if t.Component != nil {
			_, declared = t.Component.Inputs.Parameters[pi.ItemInput]
		}
	} else {
		ai := ts.ArtifactIterator
		loop.ItemInput = ai.ItemInput
		loop.InputArtifact = ai.Items.InputArtifact
		if ts.Inputs == nil || ts.Inputs.Artifacts[ai.Items.InputArtifact] == nil {
			add("artifactIterator.items.inputArtifact", "artifactIterator.items", "task binds no input artifact %q", ai.Items.InputArtifact)
		}
		if t.Component != nil {
			_, declared = t.Component.Inputs.Artifacts[ai.ItemInput]
		}
	}
	if loop.ItemInput == "" {
		add("parameterIterator.itemInput", "parameterIterator", "iterator needs an itemInput")
	} else if t.Component != nil && !declared {
		add("parameterIterator.itemInput", "parameterIterator.itemInput", "component %q declares no input %q for the loop item", t.Component.Name, loop.ItemInput)
	}
	t.Loop = loop
}

func (c *compiler) compileInputs(comp *Component, t *Task, siblings map[string]*Task, deps map[string]bool, add func(field, sub, format string, args ...any)) {
	target := t.Component
	ins := t.Spec.Inputs
	if ins == nil {
		ins = &TaskInputsSpec{}
	}
	for _, name := range sortedKeys(ins.Parameters) {
		b := ins.Parameters[name]
		field := fmt.Sprintf("inputs.parameters[%q]", name)
		sub := "inputs.parameters." + name
		if b == nil {
			add(field, sub, "binding is empty")
			continue
		}
		var want ParameterType
		if target != nil {
			if p, ok := target.Inputs.Parameters[name]; ok {
				want = p.ParameterType
			} else if !strings.HasPrefix(name, channelPrefix) && (t.Loop == nil || name != t.Loop.InputParameter) {
				add(field, sub, "component %q has no input parameter %q", target.Name, name)
				continue
			}
		}
		n := 0
		var got ParameterType
		if b.ComponentInputParameter != "" {
			n++
			p, ok := comp.Inputs.Parameters[b.ComponentInputParameter]
			if !ok {
				add(field, sub+".componentInputParameter", "the enclosing DAG has no input parameter %q", b.ComponentInputParameter)
			} else {
				got = p.ParameterType
			}
		}
		if tp := b.TaskOutputParameter; tp != nil {
			n++
			got = c.checkProducerParam(t, siblings, deps, tp.ProducerTask, tp.OutputParameterKey, field, sub+".taskOutputParameter", add)
		}
		if rv := b.RuntimeValue; rv != nil {
			n++
			if rv.Constant == nil {
				add(field, sub+".runtimeValue", "runtimeValue needs a constant")
			} else if s, isStr := rv.Constant.(string); isStr && strings.Contains(s, "{{$") {
				segs, err := ParseText(s)
				if err != nil {
					add(field, sub+".runtimeValue.constant", "%v", err)
				}
				for _, sg := range segs {
					if sg.Ref == nil {
						continue
					}
					if sg.Ref.Kind != RefInputParameter && sg.Ref.Kind != RefRuntime {
						add(field, sub+".runtimeValue.constant", "placeholder %s is not allowed in a constant", sg.Ref.Text)
					} else if sg.Ref.Kind == RefInputParameter && ins.Parameters[sg.Ref.Name] == nil {
						add(field, sub+".runtimeValue.constant", "placeholder %s refers to %q, which the task does not bind", sg.Ref.Text, sg.Ref.Name)
					}
				}
			} else if want != "" && b.ParameterExpressionSelector == "" {
				v, err := CoerceParameter(want, rv.Constant)
				if err != nil {
					add(field, sub+".runtimeValue.constant", "constant does not match type %s: %v", want, err)
				} else {
					rv.Constant = v
				}
			}
		}
		if fs := b.TaskFinalStatus; fs != nil {
			n++
			got = TypeTaskFinalStatus
			switch {
			case siblings[fs.ProducerTask] == nil:
				add(field, sub+".taskFinalStatus.producerTask", "unknown task %q", fs.ProducerTask)
			case !t.RunsOnUpstreamFailure:
				add(field, sub+".taskFinalStatus", "only a task with triggerPolicy.strategy %s (an exit handler) can read a final status", StrategyAllUpstreamCompleted)
			default:
				deps[fs.ProducerTask] = true
			}
		}
		if n != 1 {
			add(field, sub, "binding needs exactly one of componentInputParameter, taskOutputParameter, runtimeValue, taskFinalStatus; found %d", n)
			continue
		}
		if b.ParameterExpressionSelector != "" {
			prg, err := CompileSelector(b.ParameterExpressionSelector)
			if err != nil {
				add(field, sub+".parameterExpressionSelector", "%v", err)
			} else {
				if t.Selectors == nil {
					t.Selectors = map[string]cel.Program{}
				}
				t.Selectors[name] = prg
			}
			continue
		}
		if want == TypeTaskFinalStatus && got != TypeTaskFinalStatus {
			add(field, sub, "input of type %s must be bound with taskFinalStatus", want)
		} else if got.Valid() && want.Valid() && !typesCompatible(got, want) {
			add(field, sub, "type mismatch: %s value for a %s input", got, want)
		}
	}
	for _, name := range sortedKeys(ins.Artifacts) {
		b := ins.Artifacts[name]
		field := fmt.Sprintf("inputs.artifacts[%q]", name)
		sub := "inputs.artifacts." + name
		if b == nil {
			add(field, sub, "binding is empty")
			continue
		}
		var want *ArtifactSpec
		if target != nil {
			want = target.Inputs.Artifacts[name]
			if want == nil && !strings.HasPrefix(name, channelPrefix) && (t.Loop == nil || name != t.Loop.InputArtifact) {
				add(field, sub, "component %q has no input artifact %q", target.Name, name)
				continue
			}
		}
		var got *ArtifactSpec
		switch {
		case b.TaskOutputArtifact != nil && b.ComponentInputArtifact != "":
			add(field, sub, "binding needs exactly one of taskOutputArtifact, componentInputArtifact")
			continue
		case b.TaskOutputArtifact != nil:
			ta := b.TaskOutputArtifact
			p := siblings[ta.ProducerTask]
			switch {
			case ta.ProducerTask == t.Name:
				add(field, sub+".taskOutputArtifact.producerTask", "task consumes its own output")
			case p == nil:
				add(field, sub+".taskOutputArtifact.producerTask", "unknown task %q", ta.ProducerTask)
			default:
				deps[ta.ProducerTask] = true
				if pc := c.plan.Components[p.Spec.ComponentRef.Name]; pc != nil {
					got = pc.Outputs.Artifacts[ta.OutputArtifactKey]
					if got == nil {
						add(field, sub+".taskOutputArtifact.outputArtifactKey", "task %q has no output artifact %q", ta.ProducerTask, ta.OutputArtifactKey)
					}
				}
			}
		case b.ComponentInputArtifact != "":
			got = comp.Inputs.Artifacts[b.ComponentInputArtifact]
			if got == nil {
				add(field, sub+".componentInputArtifact", "the enclosing DAG has no input artifact %q", b.ComponentInputArtifact)
			}
		default:
			add(field, sub, "binding needs taskOutputArtifact or componentInputArtifact")
			continue
		}
		if got != nil && want != nil && !schemasCompatible(got.ArtifactType.SchemaTitle, want.ArtifactType.SchemaTitle) {
			add(field, sub, "type mismatch: %s artifact for a %s input", got.ArtifactType.SchemaTitle, want.ArtifactType.SchemaTitle)
		}
	}
	if target == nil {
		return
	}
	for _, name := range sortedKeys(target.Inputs.Parameters) {
		p := target.Inputs.Parameters[name]
		if p.IsOptional || p.DefaultValue != nil || ins.Parameters[name] != nil {
			continue
		}
		if t.Loop != nil && name == t.Loop.ItemInput {
			continue
		}
		add(fmt.Sprintf("inputs.parameters[%q]", name), "inputs", "required input parameter %q of component %q is not bound", name, target.Name)
	}
	for _, name := range sortedKeys(target.Inputs.Artifacts) {
		a := target.Inputs.Artifacts[name]
		if a.IsOptional || ins.Artifacts[name] != nil || (t.Loop != nil && name == t.Loop.ItemInput) {
			continue
		}
		add(fmt.Sprintf("inputs.artifacts[%q]", name), "inputs", "required input artifact %q of component %q is not bound", name, target.Name)
	}
}

func (c *compiler) checkProducerParam(t *Task, siblings map[string]*Task, deps map[string]bool, producer, key, field, sub string, add func(field, sub, format string, args ...any)) ParameterType {
	p := siblings[producer]
	switch {
	case producer == t.Name:
		add(field, sub+".producerTask", "task consumes its own output")
		return ""
	case p == nil:
		add(field, sub+".producerTask", "unknown task %q", producer)
		return ""
	}
	deps[producer] = true
	pc := c.plan.Components[p.Spec.ComponentRef.Name]
	if pc == nil {
		return ""
	}
	out, ok := pc.Outputs.Parameters[key]
	if !ok {
		add(field, sub+".outputParameterKey", "task %q has no output parameter %q", producer, key)
		return ""
	}
	return out.ParameterType
}

func (c *compiler) checkDAGOutputs(comp *Component, dag *DAG, path string) {
	outs := dag.Outputs
	if outs == nil {
		outs = &DAGOutputsSpec{}
	}
	check := func(field, sub, producer string) *Component {
		t := dag.Task(producer)
		if t == nil {
			c.sink.add(comp.Name, "", field, path+"."+sub, "unknown producer task %q", producer)
			return nil
		}
		return t.Component
	}
	for _, name := range sortedKeys(outs.Parameters) {
		o := outs.Parameters[name]
		field := fmt.Sprintf("dag.outputs.parameters[%q]", name)
		var sels []*OutputSelector
		switch {
		case o == nil:
		case o.ValueFromParameter != nil:
			sels = []*OutputSelector{o.ValueFromParameter}
		case o.ValueFromOneof != nil:
			sels = o.ValueFromOneof.ParameterSelectors
		}
		if len(sels) == 0 {
			c.sink.add(comp.Name, "", field, path+".parameters."+name, "output has no source")
		}
		for _, s := range sels {
			if pc := check(field, "parameters."+name, s.ProducerSubtask); pc != nil {
				if _, ok := pc.Outputs.Parameters[s.OutputParameterKey]; !ok {
					c.sink.add(comp.Name, "", field, path+".parameters."+name, "task %q has no output parameter %q", s.ProducerSubtask, s.OutputParameterKey)
				}
			}
		}
		if _, ok := comp.Outputs.Parameters[name]; !ok {
			c.sink.add(comp.Name, "", field, path+".parameters."+name, "the component declares no output parameter %q", name)
		}
	}
	for _, name := range sortedKeys(outs.Artifacts) {
		o := outs.Artifacts[name]
		field := fmt.Sprintf("dag.outputs.artifacts[%q]", name)
		if o == nil || len(o.ArtifactSelectors) == 0 {
			c.sink.add(comp.Name, "", field, path+".artifacts."+name, "output has no source")
			continue
		}
		for _, s := range o.ArtifactSelectors {
			if pc := check(field, "artifacts."+name, s.ProducerSubtask); pc != nil {
				if _, ok := pc.Outputs.Artifacts[s.OutputArtifactKey]; !ok {
					c.sink.add(comp.Name, "", field, path+".artifacts."+name, "task %q has no output artifact %q", s.ProducerSubtask, s.OutputArtifactKey)
				}
			}
		}
		if _, ok := comp.Outputs.Artifacts[name]; !ok {
			c.sink.add(comp.Name, "", field, path+".artifacts."+name, "the component declares no output artifact %q", name)
		}
	}
	for _, name := range sortedKeys(comp.Outputs.Parameters) {
		if outs.Parameters[name] == nil {
			c.sink.add(comp.Name, "", fmt.Sprintf("outputDefinitions.parameters[%q]", name), path, "declared output parameter has no source in dag.outputs")
		}
	}
	for _, name := range sortedKeys(comp.Outputs.Artifacts) {
		if outs.Artifacts[name] == nil {
			c.sink.add(comp.Name, "", fmt.Sprintf("outputDefinitions.artifacts[%q]", name), path, "declared output artifact has no source in dag.outputs")
		}
	}
}

// schemasCompatible accepts identical schemas and system.Artifact on either
// side, which KFP treats as "any artifact".
func schemasCompatible(from, to string) bool {
	return from == to || from == "system.Artifact" || to == "system.Artifact" || from == "" || to == ""
}

// topoSort orders names so that dependencies come first, ties broken by
// name; it returns a cycle when there is one.
func topoSort(names []string, deps map[string][]string) ([]string, []string) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for _, n := range names {
		indeg[n] += 0
		for _, d := range deps[n] {
			indeg[n]++
			users[d] = append(users[d], n)
		}
	}
	var ready, order []string
	for _, n := range names {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, u := range users[n] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) == len(names) {
		return order, nil
	}
	// Walk dependencies from a task still blocked until one repeats.
	start := ""
	for _, n := range names {
		if indeg[n] > 0 {
			start = n
			break
		}
	}
	seen := map[string]int{}
	var path []string
	for n := start; ; {
		if i, ok := seen[n]; ok {
			cyc := append([]string{}, path[i:]...)
			return nil, append(cyc, n)
		}
		seen[n] = len(path)
		path = append(path, n)
		next := ""
		for _, d := range deps[n] {
			if indeg[d] > 0 {
				next = d
				break
			}
		}
		if next == "" {
			return nil, []string{start}
		}
		n = next
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mergeResources(p Placement, r *ResourceSpec) Placement {
	switch {
	case r.ResourceCPULimit != "":
		p.CPU = r.ResourceCPULimit
	case r.ResourceCPURequest != "":
		p.CPU = r.ResourceCPURequest
	case r.CPULimit > 0:
		p.CPU = strconv.FormatFloat(r.CPULimit, 'f', -1, 64)
	}
	switch {
	case r.ResourceMemoryLimit != "":
		p.Memory = r.ResourceMemoryLimit
	case r.ResourceMemoryRequest != "":
		p.Memory = r.ResourceMemoryRequest
	case r.MemoryLimit > 0:
		p.Memory = strconv.FormatFloat(r.MemoryLimit, 'f', -1, 64) + "G"
	}
	if a := r.Accelerator; a != nil {
		p.AcceleratorType = a.ResourceType
		if p.AcceleratorType == "" {
			p.AcceleratorType = a.Type
		}
		p.AcceleratorCount = a.Count
		if n, err := strconv.Atoi(a.ResourceCount); err == nil {
			p.AcceleratorCount = n
		}
	}
	return p
}

// platformExecutor is the part of the kubernetes platform spec the
// runtime applies to an executor.
type platformExecutor struct {
	NodeSelector          map[string]string
	Tolerations           []Toleration
	ActiveDeadlineSeconds int64
}

// kubernetesExecutorConfig reads
// platforms.kubernetes.deploymentSpec.executors from the platform spec.
func kubernetesExecutorConfig(platform map[string]any) map[string]platformExecutor {
	out := map[string]platformExecutor{}
	execs, _ := dig(platform, "platforms", "kubernetes", "deploymentSpec", "executors").(map[string]any)
	for label, raw := range execs {
		cfg, _ := raw.(map[string]any)
		var pe platformExecutor
		if labels, ok := dig(cfg, "nodeSelector", "labels").(map[string]any); ok {
			pe.NodeSelector = map[string]string{}
			for k, v := range labels {
				pe.NodeSelector[k] = fmt.Sprint(v)
			}
		}
		if tols, ok := cfg["tolerations"].([]any); ok {
			for _, tv := range tols {
				if m, ok := tv.(map[string]any); ok {
					pe.Tolerations = append(pe.Tolerations, Toleration{
						Key: str(m["key"]), Operator: str(m["operator"]), Value: str(m["value"]), Effect: str(m["effect"]),
					})
				}
			}
		}
		switch v := cfg["activeDeadlineSeconds"].(type) {
		case int:
			pe.ActiveDeadlineSeconds = int64(v)
		case float64:
			pe.ActiveDeadlineSeconds = int64(v)
		case string:
			pe.ActiveDeadlineSeconds, _ = strconv.ParseInt(v, 10, 64)
		}
		out[label] = pe
	}
	return out
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// LoadAny reads either format: a KFP pipeline spec (it has `root`) or a
// native DAG (it has a `tasks` list), in YAML or JSON.
func LoadAny(data []byte) (*Plan, error) {
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err == nil {
		if _, isKFP := probe["root"]; !isKFP {
			if _, ok := probe["tasks"].([]any); ok {
				return LoadNative(data)
			}
		}
	}
	return Load(data)
}

// LoadNative reads a native DAG from YAML or JSON. Unlike the
// compiler-written KFP spec, a native DAG is written by hand, so unknown
// fields are errors (a misspelt `dependsOn` must not be ignored), and
// problems carry the line of the task and field.
func LoadNative(data []byte) (*Plan, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, parseError(err)
	}
	lines := lineIndex{}
	indexLines(&root, "", lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var n NativeDAG
	if err := dec.Decode(&n); err != nil {
		return nil, parseError(err)
	}
	plan, err := CompileNative(&n)
	if err != nil {
		l := AsErrorList(err)
		taskIndex := map[string]int{}
		for i, t := range n.Tasks {
			if _, dup := taskIndex[t.Name]; !dup {
				taskIndex[t.Name] = i
			}
		}
		for _, e := range l {
			prefix := ""
			if i, ok := taskIndex[e.Task]; ok && e.Task != "" {
				prefix = fmt.Sprintf("tasks.%d.", i)
			}
			e.Line = lines.line(prefix + fieldPath(e.Field))
			if e.Line == 0 && prefix != "" {
				e.Line = lines.line(strings.TrimSuffix(prefix, "."))
			}
		}
		return nil, l
	}
	return plan, nil
}

// fieldPath turns a field such as inputs.parameters["lr"] or dependsOn[0]
// into the dotted form of the line index.
func fieldPath(f string) string {
	r := strings.NewReplacer(`["`, ".", `"]`, "", "[", ".", "]", "")
	return r.Replace(f)
}

// NewContainerComponent compiles a single container component outside any
// pipeline, for the in-pod launcher, which receives one task's definition.
func NewContainerComponent(name string, inputs, outputs InterfaceDefinitions, container *ContainerSpec) (*Component, error) {
	const label = "exec"
	c := &compiler{
		spec: &Spec{DeploymentSpec: DeploymentSpec{Executors: map[string]*ExecutorSpec{label: {Container: container}}}},
		sink: &errorSink{},
		plan: &Plan{Components: map[string]*Component{}},
	}
	spec := &ComponentSpec{InputDefinitions: &inputs, OutputDefinitions: &outputs, ExecutorLabel: label}
	comp := c.declare(name, spec)
	c.define(comp, spec, "component")
	if err := c.sink.err(); err != nil {
		return nil, err
	}
	return comp, nil
}
