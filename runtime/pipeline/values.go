package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// normalizeJSON rewrites a decoded value into the JSON shapes the runtime
// uses everywhere (float64 numbers, map[string]any, []any), because YAML
// and CEL decode numbers and maps into other Go types.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalizeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	if rv.IsValid() && (rv.Kind() == reflect.Slice) && rv.Type().Elem().Kind() != reflect.Uint8 {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalizeJSON(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

// NormalizeValue converts a decoded YAML/JSON/CEL value to the runtime's
// JSON shapes.
func NormalizeValue(v any) any { return normalizeJSON(v) }

// CoerceParameter checks that v fits type t and returns it in canonical
// form; integers given as 9.0 are accepted for NUMBER_INTEGER, and strings
// are parsed for the other types because command-line and file values
// arrive as text.
func CoerceParameter(t ParameterType, v any) (any, error) {
	v = normalizeJSON(v)
	if s, ok := v.(string); ok && t != TypeString {
		return ParseParameter(t, s)
	}
	switch t {
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("expected a string, got %s", describe(v))
	case TypeInteger:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, fmt.Errorf("expected an integer, got %s", describe(v))
		}
		return f, nil
	case TypeDouble:
		if f, ok := v.(float64); ok {
			return f, nil
		}
		return nil, fmt.Errorf("expected a number, got %s", describe(v))
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("expected a boolean, got %s", describe(v))
	case TypeList:
		if l, ok := v.([]any); ok {
			return l, nil
		}
		return nil, fmt.Errorf("expected a list, got %s", describe(v))
	case TypeStruct, TypeTaskFinalStatus, TypeTaskConfig:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		return nil, fmt.Errorf("expected a struct, got %s", describe(v))
	}
	return v, nil
}

// ParseParameter parses the text form of a parameter (a --param value, an
// output parameter file) into a value of type t.
func ParseParameter(t ParameterType, s string) (any, error) {
	switch t {
	case TypeString, "":
		return s, nil
	case TypeInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if ferr != nil || f != math.Trunc(f) {
				return nil, fmt.Errorf("expected an integer, got %q", s)
			}
			return f, nil
		}
		return float64(n), nil
	case TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("expected a number, got %q", s)
		}
		return f, nil
	case TypeBoolean:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s)))
		if err != nil {
			return nil, fmt.Errorf("expected a boolean, got %q", s)
		}
		return b, nil
	case TypeList, TypeStruct, TypeTaskFinalStatus, TypeTaskConfig:
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("expected JSON for a %s, got %q", t, s)
		}
		return CoerceParameter(t, v)
	}
	return nil, fmt.Errorf("unknown parameter type %q", t)
}

// FormatParameter renders a value for a command line: strings as they are,
// numbers without a trailing .0 when integral, everything else as JSON.
func FormatParameter(v any) string {
	switch x := normalizeJSON(v).(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", x)
	case float64:
		return fmt.Sprintf("number %s", strconv.FormatFloat(x, 'g', -1, 64))
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a struct"
	}
	return fmt.Sprintf("%T", v)
}

// typesCompatible reports whether a value of type from may bind an input of
// type to. Integers widen to doubles; everything else must match.
func typesCompatible(from, to ParameterType) bool {
	if from == "" || to == "" || from == to {
		return true
	}
	// A final status is a struct: a nested exit pipeline hands it on to
	// components that take a dict.
	if (from == TypeTaskFinalStatus && to == TypeStruct) || (from == TypeStruct && to == TypeTaskFinalStatus) {
		return true
	}
	return from == TypeInteger && to == TypeDouble
}
