package provider

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// dagModel is the native DAG as HCL: what `dag { ... }` holds. Go types
// with pointers for optional values, so that the same struct converts to
// and from the runtime's pipeline.NativeDAG for apply, refresh and import.
type dagModel struct {
	Parameters map[string]dagParameterModel `tfsdk:"parameters"`
	Tasks      []dagTaskModel               `tfsdk:"tasks"`
	Outputs    map[string]dagOutputRefModel `tfsdk:"outputs"`
}

type dagParameterModel struct {
	Type     *string `tfsdk:"type"`
	Default  *string `tfsdk:"default"`
	Optional *bool   `tfsdk:"optional"`
}

type dagTaskModel struct {
	Name         string                   `tfsdk:"name"`
	Image        string                   `tfsdk:"image"`
	Command      []string                 `tfsdk:"command"`
	Args         []string                 `tfsdk:"args"`
	Env          map[string]string        `tfsdk:"env"`
	DependsOn    []string                 `tfsdk:"depends_on"`
	When         *string                  `tfsdk:"when"`
	Retries      *int64                   `tfsdk:"retries"`
	RetryBackoff *string                  `tfsdk:"retry_backoff"`
	Timeout      *string                  `tfsdk:"timeout"`
	Cache        *bool                    `tfsdk:"cache"`
	RunOnFailure *bool                    `tfsdk:"run_on_failure"`
	NodeSelector map[string]string        `tfsdk:"node_selector"`
	Resources    *dagResourcesModel       `tfsdk:"resources"`
	Inputs       map[string]dagInputModel `tfsdk:"inputs"`
	Outputs      map[string]string        `tfsdk:"outputs"`
}

type dagResourcesModel struct {
	CPU     *string `tfsdk:"cpu"`
	Memory  *string `tfsdk:"memory"`
	GPU     *int64  `tfsdk:"gpu"`
	GPUType *string `tfsdk:"gpu_type"`
	TPU     *int64  `tfsdk:"tpu"`
	TPUType *string `tfsdk:"tpu_type"`
}

type dagInputModel struct {
	Value     *string `tfsdk:"value"`
	Parameter *string `tfsdk:"parameter"`
	Task      *string `tfsdk:"task"`
	Output    *string `tfsdk:"output"`
	Type      *string `tfsdk:"type"`
}

type dagOutputRefModel struct {
	Task   string `tfsdk:"task"`
	Output string `tfsdk:"output"`
}

func optString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, MarkdownDescription: desc}
}

// dagAttribute is the schema of `dag`.
func dagAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "The pipeline as a native DAG of container tasks. Commands use KFP's placeholders " +
			"(`{{$.inputs.parameters['x']}}`, `{{$.outputs.parameters['y'].output_file}}`). Exactly one of `spec` and `dag`.",
		Attributes: map[string]schema.Attribute{
			"parameters": schema.MapNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Run parameters by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"type":     optString("`string` (default), `int`, `float`, `bool`, `list` or `struct`."),
					"default":  optString("Default value, as text parsed by the type (JSON for lists and structs)."),
					"optional": schema.BoolAttribute{Optional: true, MarkdownDescription: "Lets the parameter stay unset."},
				}},
			},
			"tasks": schema.ListNestedAttribute{
				Required:            true,
				MarkdownDescription: "The steps.",
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":           schema.StringAttribute{Required: true, MarkdownDescription: "Unique task name."},
					"image":          schema.StringAttribute{Required: true, MarkdownDescription: "Container image (ignored by the `local` executor)."},
					"command":        schema.ListAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Entrypoint, with placeholders."},
					"args":           schema.ListAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Arguments, with placeholders."},
					"env":            schema.MapAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Environment variables (values may hold placeholders)."},
					"depends_on":     schema.ListAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Tasks that must finish first."},
					"when":           optString("CEL condition over `inputs.parameter_values`; false skips the task."),
					"retries":        schema.Int64Attribute{Optional: true, MarkdownDescription: "Retries after a failed attempt."},
					"retry_backoff":  optString("Delay before the first retry (`10s`)."),
					"timeout":        optString("Bound of one attempt (`30m`)."),
					"cache":          schema.BoolAttribute{Optional: true, MarkdownDescription: "Reuse a previous result with the same inputs."},
					"run_on_failure": schema.BoolAttribute{Optional: true, MarkdownDescription: "Run when the upstream tasks are done whatever their outcome (an exit handler)."},
					"node_selector":  schema.MapAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Node labels the task's pod requires."},
					"resources": schema.SingleNestedAttribute{
						Optional:            true,
						MarkdownDescription: "CPU, memory and accelerators.",
						Attributes: map[string]schema.Attribute{
							"cpu":      optString("CPU quantity (`2`, `500m`)."),
							"memory":   optString("Memory quantity (`4Gi`)."),
							"gpu":      schema.Int64Attribute{Optional: true, MarkdownDescription: "Number of GPUs."},
							"gpu_type": optString("GPU resource name or GKE accelerator (`nvidia.com/gpu`, `nvidia-l4`)."),
							"tpu":      schema.Int64Attribute{Optional: true, MarkdownDescription: "Number of TPU chips."},
							"tpu_type": optString("TPU resource name or GKE TPU accelerator (`tpu-v5-lite-podslice`)."),
						},
					},
					"inputs": schema.MapNestedAttribute{
						Optional:            true,
						MarkdownDescription: "Input parameters by name: exactly one of `value`, `parameter`, or `task` with `output`.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"value":     optString("A literal."),
							"parameter": optString("A pipeline parameter."),
							"task":      optString("The producing task."),
							"output":    optString("The producing task's output parameter."),
							"type":      optString("The input's type (default: the source's)."),
						}},
					},
					"outputs": schema.MapAttribute{Optional: true, ElementType: basetypes.StringType{}, MarkdownDescription: "Output parameters by name, with their type; a task writes each to `{{$.outputs.parameters['name'].output_file}}`."},
				}},
			},
			"outputs": schema.MapNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Pipeline outputs: task outputs by name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"task":   schema.StringAttribute{Required: true, MarkdownDescription: "The producing task."},
					"output": schema.StringAttribute{Required: true, MarkdownDescription: "Its output parameter."},
				}},
			},
		},
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// native converts the model into the runtime's native DAG.
func (m *dagModel) native(name string) *pipeline.NativeDAG {
	n := &pipeline.NativeDAG{Name: name}
	if len(m.Parameters) > 0 {
		n.Parameters = map[string]pipeline.NativeParameter{}
		for k, p := range m.Parameters {
			np := pipeline.NativeParameter{Type: deref(p.Type), Optional: deref(p.Optional)}
			if p.Default != nil {
				np.Default = *p.Default
			}
			n.Parameters[k] = np
		}
	}
	for _, t := range m.Tasks {
		nt := pipeline.NativeTask{
			Name: t.Name, Image: t.Image, Command: t.Command, Args: t.Args, Env: t.Env, DependsOn: t.DependsOn,
			When: deref(t.When), Retries: int(deref(t.Retries)), RetryBackoff: deref(t.RetryBackoff), Timeout: deref(t.Timeout),
			Cache: deref(t.Cache), RunOnFailure: deref(t.RunOnFailure), NodeSelector: t.NodeSelector,
		}
		if r := t.Resources; r != nil {
			nt.Resources = pipeline.NativeResources{CPU: deref(r.CPU), Memory: deref(r.Memory), GPU: int(deref(r.GPU)), GPUType: deref(r.GPUType), TPU: int(deref(r.TPU)), TPUType: deref(r.TPUType)}
		}
		if len(t.Inputs) > 0 {
			nt.Inputs.Parameters = map[string]pipeline.NativeValue{}
			for k, in := range t.Inputs {
				v := pipeline.NativeValue{Parameter: deref(in.Parameter), Task: deref(in.Task), Output: deref(in.Output), Type: deref(in.Type)}
				if in.Value != nil {
					v.Value = *in.Value
				}
				nt.Inputs.Parameters[k] = v
			}
		}
		if len(t.Outputs) > 0 {
			nt.Outputs.Parameters = t.Outputs
		}
		n.Tasks = append(n.Tasks, nt)
	}
	if len(m.Outputs) > 0 {
		n.Outputs = map[string]pipeline.NativeOutputRef{}
		for k, o := range m.Outputs {
			n.Outputs[k] = pipeline.NativeOutputRef{Task: o.Task, Output: o.Output}
		}
	}
	return n
}

// dagFromNative converts a live native DAG back into the model (refresh
// and import). Values are carried as text, as the configuration writes
// them.
func dagFromNative(n *pipeline.NativeDAG) *dagModel {
	m := &dagModel{}
	if len(n.Parameters) > 0 {
		m.Parameters = map[string]dagParameterModel{}
		for k, p := range n.Parameters {
			pm := dagParameterModel{Type: ptr(p.Type), Optional: ptr(p.Optional)}
			if p.Default != nil {
				s := text(p.Default)
				pm.Default = &s
			}
			m.Parameters[k] = pm
		}
	}
	for _, t := range n.Tasks {
		tm := dagTaskModel{
			Name: t.Name, Image: t.Image, Command: t.Command, Args: t.Args, Env: t.Env, DependsOn: t.DependsOn,
			When: ptr(t.When), RetryBackoff: ptr(t.RetryBackoff), Timeout: ptr(t.Timeout), Cache: ptr(t.Cache),
			RunOnFailure: ptr(t.RunOnFailure), NodeSelector: t.NodeSelector, Retries: ptr(int64(t.Retries)),
		}
		if r := t.Resources; r != (pipeline.NativeResources{}) {
			tm.Resources = &dagResourcesModel{CPU: ptr(r.CPU), Memory: ptr(r.Memory), GPU: ptr(int64(r.GPU)), GPUType: ptr(r.GPUType), TPU: ptr(int64(r.TPU)), TPUType: ptr(r.TPUType)}
		}
		if len(t.Inputs.Parameters) > 0 {
			tm.Inputs = map[string]dagInputModel{}
			for k, v := range t.Inputs.Parameters {
				im := dagInputModel{Parameter: ptr(v.Parameter), Task: ptr(v.Task), Output: ptr(v.Output), Type: ptr(v.Type)}
				if v.Value != nil {
					s := text(v.Value)
					im.Value = &s
				}
				tm.Inputs[k] = im
			}
		}
		if len(t.Outputs.Parameters) > 0 {
			tm.Outputs = t.Outputs.Parameters
		}
		m.Tasks = append(m.Tasks, tm)
	}
	if len(n.Outputs) > 0 {
		m.Outputs = map[string]dagOutputRefModel{}
		for k, o := range n.Outputs {
			m.Outputs[k] = dagOutputRefModel{Task: o.Task, Output: o.Output}
		}
	}
	return m
}

// text renders a value as the configuration writes it.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// dagJSON is the native DAG as the Pipeline object stores it.
func dagJSON(n *pipeline.NativeDAG) (string, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("encoding the DAG: %w", err)
	}
	return string(b), nil
}

// dagErrorPath maps a validation error to the attribute that causes it.
func dagErrorPath(m *dagModel, fe *pipeline.FieldError) path.Path {
	p := path.Root("dag")
	if fe.Task == "" {
		return p
	}
	for i, t := range m.Tasks {
		if t.Name == fe.Task {
			return p.AtName("tasks").AtListIndex(i)
		}
	}
	return p.AtName("tasks")
}

// fullyKnown reports whether a value and everything in it is known.
func fullyKnown(v attr.Value) bool {
	if v == nil || v.IsUnknown() {
		return false
	}
	if v.IsNull() {
		return true
	}
	var elems []attr.Value
	switch x := v.(type) {
	case basetypes.ObjectValue:
		for _, e := range x.Attributes() {
			elems = append(elems, e)
		}
	case basetypes.ListValue:
		elems = x.Elements()
	case basetypes.MapValue:
		keys := make([]string, 0, len(x.Elements()))
		for k := range x.Elements() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			elems = append(elems, x.Elements()[k])
		}
	case basetypes.SetValue:
		elems = x.Elements()
	}
	for _, e := range elems {
		if !fullyKnown(e) {
			return false
		}
	}
	return true
}
