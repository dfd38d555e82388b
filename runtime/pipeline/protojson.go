package pipeline

import (
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// The KFP IR is a protobuf message serialised as proto3 JSON (and YAML of
// that JSON). Proto3 JSON allows forms that a plain struct decoder
// refuses, and other writers than the KFP compiler use them:
//
//   - 64-bit integers (int64, uint64) as strings, any integer as a string;
//   - floats as strings, including "NaN", "Infinity" and "-Infinity";
//   - field names as written in the .proto file (snake_case) as well as
//     lowerCamelCase;
//   - enums by name or by number (handled by the enum types' decoders).
//
// normalizeProto rewrites a parsed YAML tree into the form the typed
// structs decode, guided by the Go type it will be decoded into: keys of
// structs are matched case-insensitively across snake_case and camelCase,
// map keys (component, task and input names) are never touched, and
// scalars that a numeric field receives as strings get a numeric tag.

// normalizeProto walks n, which will be decoded into a value of type t.
func normalizeProto(n *yaml.Node, t reflect.Type) {
	if n == nil || t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			normalizeProto(c, t)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		return
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type decodes its own forms (enums)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				if f, ok = fields[lowerCamel(k.Value)]; ok {
					k.Value = f.name // snake_case as in the .proto file
				}
			}
			if ok {
				normalizeProto(v, f.typ)
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			normalizeProto(n.Content[i], t.Elem())
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			normalizeProto(c, t.Elem())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			s := strings.TrimSpace(n.Value)
			if _, err := strconv.ParseInt(s, 10, 64); err == nil {
				n.Value, n.Tag, n.Style = s, "!!int", 0
			} else if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
				n.Value, n.Tag, n.Style = strconv.FormatInt(int64(f), 10), "!!int", 0
			}
		} else if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f == float64(int64(f)) {
				n.Value, n.Tag = strconv.FormatInt(int64(f), 10), "!!int"
			}
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			s := strings.TrimSpace(n.Value)
			switch s {
			case "NaN":
				n.Value, n.Tag, n.Style = ".nan", "!!float", 0
			case "Infinity":
				n.Value, n.Tag, n.Style = ".inf", "!!float", 0
			case "-Infinity":
				n.Value, n.Tag, n.Style = "-.inf", "!!float", 0
			default:
				if _, err := strconv.ParseFloat(s, 64); err == nil {
					n.Value, n.Tag, n.Style = s, "!!float", 0
				}
			}
		}
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if b, err := strconv.ParseBool(strings.TrimSpace(n.Value)); err == nil {
				n.Value, n.Tag, n.Style = strconv.FormatBool(b), "!!bool", 0
			}
		}
	}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

type protoField struct {
	name string
	typ  reflect.Type
}

// structFields maps a struct's YAML keys (and, for lookup by lowerCamel,
// the same keys) to their types, following embedded structs.
func structFields(t reflect.Type) map[string]protoField {
	out := map[string]protoField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			for k, v := range structFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = protoField{name: name, typ: f.Type}
	}
	return out
}

// lowerCamel turns a proto field name (snake_case) into its JSON name.
func lowerCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
