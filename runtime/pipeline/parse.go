package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is a parsed KFP pipeline file: the pipeline spec and, when the
// file has a second YAML document, the platform spec.
type Document struct {
	// Spec is the pipeline IR.
	Spec *Spec
	// Platform is the optional second document: the kubernetes platform's
	// per-executor config (kfp-kubernetes) and pipeline config.
	Platform *PlatformSpec
	// lines maps dotted paths to source lines for error messages.
	lines lineIndex
}

// lineIndex maps a dotted YAML path (root.dag.tasks.train.inputs) to the
// line where that key starts.
type lineIndex map[string]int

func (l lineIndex) line(path string) int {
	if l == nil || path == "" {
		return 0
	}
	for p := path; p != ""; {
		if n, ok := l[p]; ok {
			return n
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func indexLines(n *yaml.Node, prefix string, into lineIndex) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, prefix, into)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			into[p] = k.Line
			indexLines(v, p, into)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := prefix + "." + strconv.Itoa(i)
			into[p] = c.Line
			indexLines(c, p, into)
		}
	}
}

// platformPrefix roots the line index of the platform spec.
const platformPrefix = "platform"

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// Parse reads a KFP pipeline spec from YAML or JSON (JSON is YAML), with an
// optional second YAML document holding the platform spec.
func Parse(data []byte) (*Document, error) {
	data, err := unpack(data)
	if err != nil {
		return nil, ErrorList{{Err: err}}
	}
	doc := &Document{lines: lineIndex{}}
	var nodes []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, parseError(err)
		}
		nodes = append(nodes, &n)
	}
	if len(nodes) == 0 || (len(nodes) == 1 && isEmptyDocument(nodes[0])) {
		return nil, ErrorList{{Err: errors.New("the file is empty; a pipeline spec is the YAML or JSON the KFP SDK compiles (pipelineInfo, components, deploymentSpec, root)")}}
	}
	if len(nodes) > 2 {
		return nil, ErrorList{{Line: nodes[2].Line, Err: fmt.Errorf("expected at most two YAML documents (pipeline spec and platform spec), found %d", len(nodes))}}
	}
	indexLines(nodes[0], "", doc.lines)
	if nodes[0].Kind != yaml.DocumentNode || len(nodes[0].Content) == 0 || nodes[0].Content[0].Kind != yaml.MappingNode {
		return nil, ErrorList{{Line: 1, Err: errors.New("pipeline spec must be a mapping")}}
	}
	if err := unknownTopLevel(nodes[0].Content[0], reflect.TypeFor[Spec]()); err != nil {
		return nil, err
	}
	var spec Spec
	normalizeProto(nodes[0], reflect.TypeFor[Spec]())
	if err := nodes[0].Decode(&spec); err != nil {
		return nil, parseError(err)
	}
	doc.Spec = &spec
	if len(nodes) == 2 {
		if nodes[1].Kind != yaml.DocumentNode || len(nodes[1].Content) == 0 || nodes[1].Content[0].Kind != yaml.MappingNode {
			return nil, ErrorList{{Field: "platform spec", Line: nodes[1].Line, Err: errors.New("the second YAML document (the platform spec) must be a mapping")}}
		}
		indexLines(nodes[1], platformPrefix, doc.lines)
		var platform PlatformSpec
		normalizeProto(nodes[1], reflect.TypeFor[PlatformSpec]())
		if err := nodes[1].Decode(&platform); err != nil {
			return nil, parseError(err)
		}
		doc.Platform = &platform
	}
	return doc, nil
}

func isEmptyDocument(n *yaml.Node) bool {
	return n.Kind == yaml.DocumentNode && (len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null"))
}

// unknownTopLevel refuses keys a pipeline spec does not have at its top:
// a misspelt "components" would otherwise be dropped in silence, and
// every task would then name an unknown component.
func unknownTopLevel(m *yaml.Node, t reflect.Type) error {
	fields := structFields(t)
	var errs ErrorList
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if _, ok := fields[k.Value]; ok {
			continue
		}
		if _, ok := fields[lowerCamel(k.Value)]; ok {
			continue
		}
		msg := fmt.Sprintf("unknown field %q of a pipeline spec", k.Value)
		if near := nearestField(k.Value, fields); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		errs = append(errs, &FieldError{Field: k.Value, Line: k.Line, Err: errors.New(msg)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// nearestField is the field name closest to a misspelt one, if close.
func nearestField(name string, fields map[string]protoField) string {
	best, dist := "", 4
	for f := range fields {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < dist || (d == dist && f < best) {
			best, dist = f, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// parseError turns a YAML error into located field errors.
func parseError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var l ErrorList
		for _, msg := range te.Errors {
			fe := &FieldError{Field: "document", Err: errors.New(msg)}
			if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
				fe.Err = errors.New(strings.TrimSpace(strings.TrimPrefix(msg, m[0]+":")))
			}
			l = append(l, fe)
		}
		return l
	}
	fe := &FieldError{Field: "document", Err: fmt.Errorf("parsing YAML: %w", err)}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
	}
	return ErrorList{fe}
}
