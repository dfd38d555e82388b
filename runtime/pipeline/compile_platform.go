package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// pvcStubs are the images kfp-kubernetes gives its CreatePVC and
// DeletePVC executors (which have no command: the backend acts).
var pvcStubs = map[string]ExecutorKind{
	"argostub/createpvc": ExecCreatePVC,
	"argostub/deletepvc": ExecDeletePVC,
}

func platformExecPath(label string) string {
	return platformPrefix + ".platforms.kubernetes.deploymentSpec.executors." + label
}

// readPlatform takes the kubernetes platform's executor configs and the
// workspace from the platform spec, checking what can be checked before
// run time.
func (c *compiler) readPlatform(p *PlatformSpec) {
	c.platform = map[string]*KubernetesExecutorConfig{}
	if p == nil {
		return
	}
	k := p.Platforms["kubernetes"]
	if k == nil {
		return
	}
	if k.DeploymentSpec != nil {
		for _, label := range sortedKeys(k.DeploymentSpec.Executors) {
			cfg := k.DeploymentSpec.Executors[label]
			if cfg == nil {
				continue
			}
			cfg.foldDeprecated()
			cfg.check(func(field, format string, args ...any) {
				c.sink.add("", "", fmt.Sprintf("platforms.kubernetes.deploymentSpec.executors[%q].%s", label, field),
					platformExecPath(label)+"."+fieldPath(field), format, args...)
			})
			c.platform[label] = cfg
		}
	}
	if pc := k.PipelineConfig; pc != nil && pc.Workspace != nil {
		ws := pc.Workspace
		path := platformPrefix + ".platforms.kubernetes.pipelineConfig.workspace"
		if ws.Size == "" {
			c.sink.add("", "", "platforms.kubernetes.pipelineConfig.workspace.size", path, "a workspace needs a size")
		} else if _, err := resource.ParseQuantity(ws.Size); err != nil {
			c.sink.add("", "", "platforms.kubernetes.pipelineConfig.workspace.size", path+".size", "%q is not a Kubernetes quantity", ws.Size)
		}
		c.plan.Workspace = ws
	}
}

// checkPlatformRef checks one run-time value of a task's Kubernetes config
// as a binding in the task's DAG.
func (c *compiler) checkPlatformRef(comp *Component, t *Task, siblings map[string]*Task, deps map[string]bool, r platformRef, add func(field, sub, format string, args ...any)) {
	field := "kubernetes." + r.field
	b := r.spec
	n := 0
	if b.ComponentInputParameter != "" {
		n++
		if _, ok := comp.Inputs.Parameters[b.ComponentInputParameter]; !ok {
			add(field, "", "the enclosing DAG has no input parameter %q", b.ComponentInputParameter)
		}
	}
	if tp := b.TaskOutputParameter; tp != nil {
		n++
		c.checkProducerParam(t, siblings, deps, tp.ProducerTask, tp.OutputParameterKey, field, "", add)
	}
	if rv := b.RuntimeValue; rv != nil {
		n++
		if rv.Constant == nil && rv.ConstantValue != nil {
			rv.Constant = rv.ConstantValue.Value()
		}
		if rv.Constant == nil {
			add(field, "", "runtimeValue needs a constant")
		}
	}
	if b.TaskFinalStatus != nil {
		n++
		add(field, "", "a final status cannot name a Kubernetes object")
	}
	if n != 1 {
		add(field, "", "needs exactly one of componentInputParameter, taskOutputParameter, runtimeValue; found %d", n)
	}
}

// checkPVCComponent checks the interface of a CreatePVC or DeletePVC
// component, which the runtime fills in itself.
func (c *compiler) checkPVCComponent(comp *Component, kind ExecutorKind, path string) {
	switch kind {
	case ExecCreatePVC:
		if p := comp.Outputs.Parameters["name"]; p == nil || p.ParameterType != TypeString {
			c.sink.add(comp.Name, "", "outputDefinitions.parameters", path, "a CreatePVC component declares the STRING output \"name\"")
		}
		for _, in := range []string{"size", "access_modes"} {
			if comp.Inputs.Parameters[in] == nil {
				c.sink.add(comp.Name, "", "inputDefinitions.parameters", path, "a CreatePVC component declares the input %q", in)
			}
		}
	case ExecDeletePVC:
		if comp.Inputs.Parameters["pvc_name"] == nil {
			c.sink.add(comp.Name, "", "inputDefinitions.parameters", path, "a DeletePVC component declares the input \"pvc_name\"")
		}
	}
}

// resourceFields lists the string fields of a ResourceSpec that may hold
// placeholders, with their names.
func resourceFields(r *ResourceSpec) []struct{ name, value string } {
	out := []struct{ name, value string }{
		{"resourceCpuLimit", r.ResourceCPULimit}, {"resourceMemoryLimit", r.ResourceMemoryLimit},
		{"resourceCpuRequest", r.ResourceCPURequest}, {"resourceMemoryRequest", r.ResourceMemoryRequest},
	}
	if a := r.Accelerator; a != nil {
		out = append(out, struct{ name, value string }{"accelerator.resourceType", a.ResourceType}, struct{ name, value string }{"accelerator.resourceCount", a.ResourceCount})
	}
	return out
}

// checkResources checks an executor's resources: placeholders must be
// well formed, literal quantities valid.
func (c *compiler) checkResources(comp *Component, r *ResourceSpec, path string) {
	if r == nil {
		return
	}
	for _, f := range resourceFields(r) {
		if f.value == "" {
			continue
		}
		segs, err := ParseText(f.value)
		if err != nil {
			c.sink.add(comp.Name, "", "container.resources."+f.name, path, "%v", err)
			continue
		}
		literal := true
		for _, sg := range segs {
			if sg.Ref == nil {
				continue
			}
			literal = false
			if sg.Ref.Kind != RefInputParameter {
				c.sink.add(comp.Name, "", "container.resources."+f.name, path, "placeholder %s: resources take input parameters only", sg.Ref.Text)
			}
		}
		if literal {
			if err := checkResourceValue(f.name, f.value); err != nil {
				c.sink.add(comp.Name, "", "container.resources."+f.name, path, "%v", err)
			}
		}
	}
	if r.CPULimit < 0 || r.MemoryLimit < 0 || r.CPURequest < 0 || r.MemoryRequest < 0 {
		c.sink.add(comp.Name, "", "container.resources", path, "resources must not be negative")
	}
}

// checkResourceRefs checks that a task binds the inputs its executor's
// resource placeholders name.
func (c *compiler) checkResourceRefs(t *Task, r *ResourceSpec, add func(field, sub, format string, args ...any)) {
	for _, f := range resourceFields(r) {
		segs, err := ParseText(f.value)
		if err != nil {
			continue
		}
		for _, sg := range segs {
			if sg.Ref == nil || sg.Ref.Kind != RefInputParameter {
				continue
			}
			bound := t.Spec.Inputs != nil && t.Spec.Inputs.Parameters[sg.Ref.Name] != nil
			declared := t.Component != nil && t.Component.Inputs.Parameters[sg.Ref.Name] != nil
			if !bound && !declared {
				add("container.resources."+f.name, "inputs", "placeholder %s refers to %q, which the task does not bind", sg.Ref.Text, sg.Ref.Name)
			}
		}
	}
}

func checkResourceValue(field, v string) error {
	switch field {
	case "accelerator.resourceType":
		return nil
	case "accelerator.resourceCount":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("accelerator count %q is not a non-negative integer", v)
		}
		return nil
	}
	if _, err := resource.ParseQuantity(strings.TrimSpace(v)); err != nil {
		return fmt.Errorf("%s %q is not a Kubernetes quantity", field, v)
	}
	return nil
}

// TaskPlacement resolves where and with what resources one instance of t
// runs: its static placement plus its executor's resources, whose
// placeholders take the task's resolved input parameters.
func TaskPlacement(t *Task, params map[string]any) (Placement, error) {
	p := t.Placement
	r := t.Resources
	if r == nil {
		return p, nil
	}
	get := func(field, v string) (string, error) {
		if v == "" {
			return "", nil
		}
		segs, err := ParseText(v)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, sg := range segs {
			if sg.Ref == nil {
				b.WriteString(sg.Literal)
				continue
			}
			val, ok := params[sg.Ref.Name]
			if !ok {
				return "", fmt.Errorf("resources.%s: input %q has no value", field, sg.Ref.Name)
			}
			b.WriteString(FormatParameter(val))
		}
		out := strings.TrimSpace(b.String())
		if out == "" {
			return "", nil
		}
		if err := checkResourceValue(field, out); err != nil {
			return "", fmt.Errorf("resources.%s: %w", field, err)
		}
		return out, nil
	}
	gb := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) + "G" }
	var err error
	set := func(dst *string, field, v string, legacy float64, legacyFmt func(float64) string) {
		if err != nil {
			return
		}
		var s string
		if s, err = get(field, v); err == nil {
			switch {
			case s != "":
				*dst = s
			case legacy > 0:
				*dst = legacyFmt(legacy)
			}
		}
	}
	cores := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	set(&p.CPU, "resourceCpuLimit", r.ResourceCPULimit, r.CPULimit, cores)
	set(&p.Memory, "resourceMemoryLimit", r.ResourceMemoryLimit, r.MemoryLimit, gb)
	set(&p.CPURequest, "resourceCpuRequest", r.ResourceCPURequest, r.CPURequest, cores)
	set(&p.MemoryRequest, "resourceMemoryRequest", r.ResourceMemoryRequest, r.MemoryRequest, gb)
	if err != nil {
		return p, err
	}
	if a := r.Accelerator; a != nil {
		typ, err := get("accelerator.resourceType", a.ResourceType)
		if err != nil {
			return p, err
		}
		if typ == "" {
			typ = a.Type
		}
		count, err := get("accelerator.resourceCount", a.ResourceCount)
		if err != nil {
			return p, err
		}
		n := a.Count
		if count != "" {
			n, _ = strconv.ParseInt(count, 10, 64)
		}
		if n > math.MaxInt32 {
			return p, fmt.Errorf("resources.accelerator: count %d is too large", n)
		}
		p.AcceleratorType, p.AcceleratorCount = typ, int(n)
	}
	return p, nil
}
