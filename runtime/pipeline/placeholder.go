package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// RefKind says what a `{{$...}}` placeholder refers to.
type RefKind int

// Placeholder kinds.
const (
	// RefExecutorInput is `{{$}}`: the whole executor input as JSON.
	RefExecutorInput RefKind = iota + 1
	// RefInputParameter is `{{$.inputs.parameters['x']}}`.
	RefInputParameter
	// RefInputArtifact is `{{$.inputs.artifacts['a'].path|uri|metadata}}` or the whole list.
	RefInputArtifact
	// RefOutputParameter is `{{$.outputs.parameters['y'].output_file}}`.
	RefOutputParameter
	// RefOutputArtifact is `{{$.outputs.artifacts['b'].path|uri|metadata}}`.
	RefOutputArtifact
	// RefRuntime is one of the run-scoped values such as `{{$.pipeline_job_name}}`.
	RefRuntime
)

// Runtime placeholders, named as KFP's dsl module names them.
const (
	RuntimeJobName         = "pipeline_job_name"
	RuntimeJobResourceName = "pipeline_job_resource_name"
	RuntimeJobUUID         = "pipeline_job_uuid"
	RuntimeTaskName        = "pipeline_task_name"
	RuntimeTaskUUID        = "pipeline_task_uuid"
	RuntimeJobCreateTime   = "pipeline_job_create_time_utc"
	RuntimeJobScheduleTime = "pipeline_job_schedule_time_utc"
	RuntimePipelineRoot    = "pipeline_root"
	// RuntimeWorkspacePath is where the run's workspace is mounted.
	RuntimeWorkspacePath = "workspace_path"
	// RuntimePersistentResourceID is Vertex AI's persistent resource of a
	// run, which Google's components default to; always empty here.
	RuntimePersistentResourceID = "pipeline_persistent_resource_id"
)

var runtimeNames = map[string]bool{
	RuntimeJobName: true, RuntimeJobResourceName: true, RuntimeJobUUID: true,
	RuntimeTaskName: true, RuntimeTaskUUID: true, RuntimeJobCreateTime: true,
	RuntimeJobScheduleTime: true, RuntimePipelineRoot: true, RuntimeWorkspacePath: true, RuntimePersistentResourceID: true,
}

// Ref is one parsed `{{$...}}` placeholder.
type Ref struct {
	// Kind is what the placeholder refers to.
	Kind RefKind
	// Name is the input or output name, or the runtime value's name.
	Name string
	// Attr is path, uri, metadata or output_file; empty for parameters and
	// whole artifact lists.
	Attr string
	// Key is the metadata key for `.metadata['k']`.
	Key string
	// Text is the placeholder as written.
	Text string
}

// Segment is a literal run of text or a placeholder.
type Segment struct {
	// Literal is set when Ref is nil.
	Literal string
	// Ref is the placeholder.
	Ref *Ref
}

// Arg is one parsed command-line element: text with placeholders, an
// IfPresent or a Concat.
type Arg struct {
	// Segments is the text form.
	Segments []Segment
	// IfPresent is the conditional form.
	IfPresent *IfPresentArg
	// Concat is the concatenation form.
	Concat []*Arg
}

// IfPresentArg expands to Then when the named input is bound, else Else.
type IfPresentArg struct {
	// InputName is the input (parameter or artifact) tested.
	InputName string
	// Then is used when the input is present.
	Then []*Arg
	// Else is used otherwise; may be empty.
	Else []*Arg
}

var placeholderRE = regexp.MustCompile(`\{\{\$[^{}]*\}\}`)
var refRE = regexp.MustCompile(`^\$\.(inputs|outputs)\.(parameters|artifacts)\[\s*(?:'([^']*)'|"([^"]*)")\s*\](?:\.(path|uri|metadata|output_file|value)(?:\[\s*(?:'([^']*)'|"([^"]*)")\s*\])?)?$`)

// ParseRef parses the inside of one placeholder, e.g. `$.inputs.parameters['x']`.
func ParseRef(text string) (*Ref, error) {
	inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(text, "{{"), "}}"))
	if inner == "$" {
		return &Ref{Kind: RefExecutorInput, Text: text}, nil
	}
	if name, ok := strings.CutPrefix(inner, "$."); ok && runtimeNames[name] {
		return &Ref{Kind: RefRuntime, Name: name, Text: text}, nil
	}
	m := refRE.FindStringSubmatch(inner)
	if m == nil {
		return nil, fmt.Errorf("unknown placeholder %s", text)
	}
	r := &Ref{Name: m[3] + m[4], Attr: m[5], Key: m[6] + m[7], Text: text}
	if r.Key != "" && r.Attr != "metadata" {
		return nil, fmt.Errorf("placeholder %s: only metadata takes a key", text)
	}
	switch m[1] + "." + m[2] {
	case "inputs.parameters":
		r.Kind = RefInputParameter
		if r.Attr != "" {
			return nil, fmt.Errorf("placeholder %s: an input parameter has no attribute %q", text, r.Attr)
		}
	case "inputs.artifacts":
		r.Kind = RefInputArtifact
		if r.Attr == "output_file" {
			return nil, fmt.Errorf("placeholder %s: an input artifact has no output_file", text)
		}
	case "outputs.parameters":
		r.Kind = RefOutputParameter
		if r.Attr != "output_file" {
			return nil, fmt.Errorf("placeholder %s: an output parameter is referenced only by .output_file", text)
		}
	case "outputs.artifacts":
		r.Kind = RefOutputArtifact
		if r.Attr == "output_file" || r.Attr == "value" {
			return nil, fmt.Errorf("placeholder %s: an output artifact has no %s", text, r.Attr)
		}
	}
	return r, nil
}

// ParseText splits s into literals and placeholders.
func ParseText(s string) ([]Segment, error) {
	var segs []Segment
	last := 0
	for _, loc := range placeholderRE.FindAllStringIndex(s, -1) {
		if loc[0] > last {
			segs = append(segs, Segment{Literal: s[last:loc[0]]})
		}
		r, err := ParseRef(s[loc[0]:loc[1]])
		if err != nil {
			return nil, err
		}
		segs = append(segs, Segment{Ref: r})
		last = loc[1]
	}
	if last < len(s) {
		segs = append(segs, Segment{Literal: s[last:]})
	}
	// An unterminated placeholder is almost always a typo that would
	// otherwise reach the user's program verbatim.
	for _, sg := range segs {
		if sg.Ref == nil && strings.Contains(sg.Literal, "{{$") {
			return nil, fmt.Errorf("unterminated or malformed placeholder in %q", sg.Literal)
		}
	}
	return segs, nil
}

// ParseArg parses one command or args element. A string that is a JSON
// object with a single IfPresent or Concat key is the structured form the
// KFP compiler writes for those placeholders.
func ParseArg(s string) (*Arg, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{\"IfPresent\"") || strings.HasPrefix(t, "{\"Concat\"") {
		var v any
		if err := json.Unmarshal([]byte(t), &v); err != nil {
			return nil, fmt.Errorf("parsing structured placeholder %q: %w", s, err)
		}
		return parseStructured(v)
	}
	segs, err := ParseText(s)
	if err != nil {
		return nil, err
	}
	return &Arg{Segments: segs}, nil
}

func parseStructured(v any) (*Arg, error) {
	switch x := v.(type) {
	case string:
		return ParseArg(x)
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("structured placeholder must have exactly one key, got %d", len(x))
		}
		if items, ok := x["Concat"]; ok {
			list, ok := items.([]any)
			if !ok {
				return nil, errors.New("the Concat placeholder takes a list")
			}
			a := &Arg{Concat: []*Arg{}}
			for _, it := range list {
				sub, err := parseStructured(it)
				if err != nil {
					return nil, fmt.Errorf("in Concat: %w", err)
				}
				a.Concat = append(a.Concat, sub)
			}
			return a, nil
		}
		if body, ok := x["IfPresent"]; ok {
			m, ok := body.(map[string]any)
			if !ok {
				return nil, errors.New("the IfPresent placeholder takes an object")
			}
			name, _ := m["InputName"].(string)
			if name == "" {
				return nil, errors.New("the IfPresent placeholder needs InputName")
			}
			ip := &IfPresentArg{InputName: name}
			var err error
			if ip.Then, err = parseBranch(m["Then"]); err != nil {
				return nil, fmt.Errorf("in IfPresent.Then: %w", err)
			}
			if ip.Else, err = parseBranch(m["Else"]); err != nil {
				return nil, fmt.Errorf("in IfPresent.Else: %w", err)
			}
			for k := range m {
				if k != "InputName" && k != "Then" && k != "Else" {
					return nil, fmt.Errorf("the IfPresent placeholder has an unknown key %q", k)
				}
			}
			return &Arg{IfPresent: ip}, nil
		}
		for k := range x {
			return nil, fmt.Errorf("unknown structured placeholder %q", k)
		}
	}
	return nil, fmt.Errorf("unexpected placeholder element %v", v)
}

func parseBranch(v any) ([]*Arg, error) {
	if v == nil {
		return nil, nil
	}
	if list, ok := v.([]any); ok {
		out := make([]*Arg, 0, len(list))
		for _, it := range list {
			a, err := parseStructured(it)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	a, err := parseStructured(v)
	if err != nil {
		return nil, err
	}
	return []*Arg{a}, nil
}

// Refs returns every placeholder inside a, depth first.
func (a *Arg) Refs() []*Ref {
	var out []*Ref
	var walk func(*Arg)
	walk = func(a *Arg) {
		for _, s := range a.Segments {
			if s.Ref != nil {
				out = append(out, s.Ref)
			}
		}
		for _, c := range a.Concat {
			walk(c)
		}
		if a.IfPresent != nil {
			for _, c := range a.IfPresent.Then {
				walk(c)
			}
			for _, c := range a.IfPresent.Else {
				walk(c)
			}
		}
	}
	walk(a)
	return out
}

// IfPresentNames returns the input names tested by IfPresent inside a.
func (a *Arg) IfPresentNames() []string {
	var out []string
	var walk func(*Arg)
	walk = func(a *Arg) {
		for _, c := range a.Concat {
			walk(c)
		}
		if a.IfPresent != nil {
			out = append(out, a.IfPresent.InputName)
			for _, c := range a.IfPresent.Then {
				walk(c)
			}
			for _, c := range a.IfPresent.Else {
				walk(c)
			}
		}
	}
	walk(a)
	return out
}

// Resolver supplies placeholder values when expanding arguments.
type Resolver interface {
	// Resolve returns the text a placeholder stands for.
	Resolve(r *Ref) (string, error)
	// Present reports whether an input is bound, for IfPresent.
	Present(name string) bool
}

// Expand turns a parsed argument into zero or more command-line strings.
func (a *Arg) Expand(res Resolver) ([]string, error) {
	switch {
	case a.IfPresent != nil:
		branch := a.IfPresent.Else
		if res.Present(a.IfPresent.InputName) {
			branch = a.IfPresent.Then
		}
		var out []string
		for _, b := range branch {
			s, err := b.Expand(res)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case a.Concat != nil:
		var b strings.Builder
		for _, c := range a.Concat {
			s, err := c.Expand(res)
			if err != nil {
				return nil, err
			}
			b.WriteString(strings.Join(s, ""))
		}
		return []string{b.String()}, nil
	default:
		var b strings.Builder
		for _, s := range a.Segments {
			if s.Ref == nil {
				b.WriteString(s.Literal)
				continue
			}
			v, err := res.Resolve(s.Ref)
			if err != nil {
				return nil, err
			}
			b.WriteString(v)
		}
		return []string{b.String()}, nil
	}
}
