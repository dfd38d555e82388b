package pipeline

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// The CEL environments follow what KFP's driver exposes: a trigger
// condition sees `inputs` (the task's executor inputs, proto field names,
// so `inputs.parameter_values['x']`), and a parameterExpressionSelector sees
// the value's google.protobuf.Value fields (`string_value`, `number_value`,
// ...). Both get `parseJson`, which the KFP compiler emits for selecting a
// field of a struct loop item.

var (
	celOnce      sync.Once
	conditionEnv *cel.Env
	selectorEnv  *cel.Env
	celEnvErr    error
)

func parseJSONFunction() cel.EnvOption {
	return cel.Function("parseJson",
		cel.Overload("parseJson_string", []*cel.Type{cel.StringType}, cel.DynType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.Value().(string)
				if !ok {
					return types.NewErr("parseJson: argument is not a string")
				}
				var out any
				if err := json.Unmarshal([]byte(s), &out); err != nil {
					return types.NewErr("parseJson: %v", err)
				}
				return types.DefaultTypeAdapter.NativeToValue(out)
			})))
}

func celEnvs() (*cel.Env, *cel.Env, error) {
	celOnce.Do(func() {
		conditionEnv, celEnvErr = cel.NewEnv(
			// A nested map type (rather than map(string, dyn)) keeps
			// conversions such as int(inputs.parameter_values['x'])
			// dispatching on the runtime type.
			cel.Variable("inputs", cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))),
			parseJSONFunction(),
		)
		if celEnvErr != nil {
			return
		}
		selectorEnv, celEnvErr = cel.NewEnv(
			cel.Variable("string_value", cel.StringType),
			cel.Variable("number_value", cel.DoubleType),
			cel.Variable("bool_value", cel.BoolType),
			cel.Variable("struct_value", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("list_value", cel.ListType(cel.DynType)),
			cel.Variable("null_value", cel.DynType),
			parseJSONFunction(),
		)
	})
	return conditionEnv, selectorEnv, celEnvErr
}

// CompileCondition compiles a trigger condition; its result must be a bool.
func CompileCondition(expr string) (cel.Program, error) {
	env, _, err := celEnvs()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compiling CEL condition: %w", iss.Err())
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("CEL condition must be a bool, is %s", t)
	}
	return env.Program(ast)
}

// CompileSelector compiles a parameterExpressionSelector.
func CompileSelector(expr string) (cel.Program, error) {
	_, env, err := celEnvs()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compiling CEL selector: %w", iss.Err())
	}
	return env.Program(ast)
}

// EvalCondition runs a compiled condition against a task's resolved
// parameter values (JSON-shaped: numbers are float64, as KFP's proto values).
func EvalCondition(p cel.Program, params map[string]any) (bool, error) {
	pv := make(map[string]any, len(params))
	for k, v := range params {
		pv[k] = v
	}
	out, _, err := p.Eval(map[string]any{"inputs": map[string]any{"parameter_values": pv}})
	if err != nil {
		return false, fmt.Errorf("evaluating CEL condition: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("CEL condition returned %T, not bool", out.Value())
	}
	return b, nil
}

// EvalSelector applies a compiled selector to one value.
func EvalSelector(p cel.Program, v any) (any, error) {
	vars := map[string]any{
		"string_value": "", "number_value": 0.0, "bool_value": false,
		"struct_value": map[string]any{}, "list_value": []any{}, "null_value": nil,
	}
	switch x := v.(type) {
	case string:
		vars["string_value"] = x
	case float64:
		vars["number_value"] = x
	case bool:
		vars["bool_value"] = x
	case map[string]any:
		vars["struct_value"] = x
	case []any:
		vars["list_value"] = x
	}
	if _, isString := v.(string); !isString && v != nil {
		// KFP hands non-string values to selectors as their JSON text too,
		// which is why compiled pipelines write parseJson(string_value).
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		vars["string_value"] = string(b)
	}
	out, _, err := p.Eval(vars)
	if err != nil {
		return nil, fmt.Errorf("evaluating CEL selector: %w", err)
	}
	return normalizeJSON(out.Value()), nil
}
