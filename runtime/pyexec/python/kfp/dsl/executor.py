"""The executor protocol: read the executor input, call the component
function with its inputs, write outputs and executor_output.json.

Protocol (ExecutorInput/ExecutorOutput in KFP's pipeline_spec.proto):
inputs.parameterValues holds JSON values by name, inputs.artifacts lists of
runtime artifacts ({name, uri, type.schemaTitle, metadata});
outputs.parameters[name].outputFile and outputs.artifacts say where outputs
go, outputs.outputFile where the executor output goes. The executor output
holds parameterValues and, for each output artifact, its uri and metadata.
"""

import json
import os
import typing

from kfp.dsl.task_config import TaskConfig
from kfp.dsl.task_final_status import PipelineTaskFinalStatus
from kfp.dsl.types import artifact_types
from kfp.dsl.types import type_annotations as ta

_PARAMETER_TYPES = (str, int, float, bool, dict, list)


def _is_artifact_class(t):
    return isinstance(t, type) and issubclass(t, artifact_types.Artifact)


def _is_parameter(t):
    t = ta.strip_optional(t)
    origin = typing.get_origin(t) or t
    return origin in _PARAMETER_TYPES or origin in (typing.Dict, typing.List)


def _is_named_tuple(t):
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def _artifact_class(annotation, runtime_artifact):
    """The class to build: the runtime artifact's schema wins over the
    annotation, as in KFP (an Input[Artifact] may receive a Dataset)."""
    title = (runtime_artifact.get("type") or {}).get("schemaTitle", "")
    if title in artifact_types._SCHEMA_TITLE_TO_TYPE:
        return artifact_types._SCHEMA_TITLE_TO_TYPE[title]
    if _is_artifact_class(annotation):
        return annotation
    return artifact_types.Artifact


def _make_artifact(runtime_artifact, annotation=None):
    cls = _artifact_class(annotation, runtime_artifact)
    a = cls(name=runtime_artifact.get("name", ""), uri=runtime_artifact.get("uri", ""),
            metadata=dict(runtime_artifact.get("metadata") or {}))
    return a


def _convert_parameter(name, value, annotation):
    """JSON numbers arrive as floats or ints; give the function the type it
    declares."""
    t = ta.strip_optional(annotation)
    origin = typing.get_origin(t) or t
    if origin is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (dict, list, typing.Dict, typing.List) and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("input %r: expected JSON for a %s, got %r" % (name, origin.__name__, value)) from None
    return value


class Executor:
    """Runs one component function against an executor input."""

    def __init__(self, executor_input, function_to_execute):
        self.func = getattr(function_to_execute, "python_func", function_to_execute)
        self.executor_input = executor_input
        outputs = executor_input.get("outputs") or {}
        self.output_file = outputs.get("outputFile", "")
        artifact_types.CONTAINER_TASK_ROOT = os.path.dirname(self.output_file) if self.output_file else None
        try:
            self.hints = typing.get_type_hints(self.func, include_extras=True)
        except Exception:  # annotations naming what the module cannot resolve
            self.hints = dict(getattr(self.func, "__annotations__", {}))
        self.input_artifacts = {}
        self.output_artifacts = {}
        self.executor_output = {}
        self._read_artifacts()

    # -- inputs and outputs ------------------------------------------------

    def _read_artifacts(self):
        inputs = self.executor_input.get("inputs") or {}
        for name, wrapper in (inputs.get("artifacts") or {}).items():
            runtime = (wrapper or {}).get("artifacts") or []
            if not runtime:
                continue
            annotation = ta.strip_optional(self.hints.get(name))
            inner = ta.unwrap(annotation)
            item = ta.list_item(inner)
            if item is not None:
                self.input_artifacts[name] = [_make_artifact(r, ta.unwrap(item)) for r in runtime]
            else:
                if isinstance(annotation, ta.InputPath):
                    inner = artifact_types._SCHEMA_TITLE_TO_TYPE.get(str(annotation.type or "").split("@")[0])
                self.input_artifacts[name] = _make_artifact(runtime[0], inner)
        for name, wrapper in (outputs_of(self.executor_input).get("artifacts") or {}).items():
            runtime = (wrapper or {}).get("artifacts") or []
            if not runtime:
                continue
            annotation = ta.unwrap(ta.strip_optional(self.hints.get(name)))
            if name == "Output" or name not in self.hints:
                annotation = self._return_type_of(name) or annotation
            art = _make_artifact(runtime[0], annotation)
            self.output_artifacts[name] = art
            _makedirs_for(art.path)

    def _return_type_of(self, name):
        ret = self.hints.get("return")
        if ret is None:
            return None
        if _is_named_tuple(ret):
            return typing.get_type_hints(ret).get(name)
        return ret if name == "Output" else None

    def _parameter(self, name):
        values = (self.executor_input.get("inputs") or {}).get("parameterValues") or {}
        return values.get(name)

    def _has_parameter(self, name):
        values = (self.executor_input.get("inputs") or {}).get("parameterValues") or {}
        return name in values

    def _output_parameter_path(self, name):
        spec = (outputs_of(self.executor_input).get("parameters") or {}).get(name)
        if not spec:
            raise ValueError("the executor input declares no output parameter %r" % name)
        path = spec.get("outputFile", "")
        _makedirs_for(path)
        return path

    def _output_artifact_path(self, name):
        art = self.output_artifacts.get(name)
        if art is None:
            raise ValueError("the executor input declares no output artifact %r" % name)
        return art.path

    def _input_artifact_path(self, name):
        art = self.input_artifacts.get(name)
        if art is None:
            raise ValueError("input artifact %r has no value" % name)
        return art.path

    # -- calling the function ----------------------------------------------

    def _arguments(self):
        kwargs = {}
        for name in _parameter_names(self.func):
            annotation = ta.strip_optional(self.hints.get(name))
            marker = ta.marker_of(annotation)
            inner = ta.unwrap(annotation)
            if annotation is PipelineTaskFinalStatus:
                v = self._parameter(name) or {}
                err = v.get("error") or {}
                kwargs[name] = PipelineTaskFinalStatus(
                    state=v.get("state"),
                    pipeline_job_resource_name=v.get("pipelineJobResourceName", v.get("pipeline_job_resource_name")),
                    pipeline_task_name=v.get("pipelineTaskName", v.get("pipeline_task_name")),
                    error_code=err.get("code"),
                    error_message=err.get("message"),
                )
            elif annotation is TaskConfig:
                v = self._parameter(name) or {}
                kwargs[name] = TaskConfig(
                    affinity=v.get("affinity"), tolerations=v.get("tolerations"), node_selector=v.get("nodeSelector"),
                    env=v.get("env"), volumes=v.get("volumes"), volume_mounts=v.get("volumeMounts"),
                    resources=v.get("resources"))
            elif marker is ta.OUTPUT:
                if name in self.output_artifacts:
                    kwargs[name] = self.output_artifacts[name]
            elif marker is ta.EMBEDDED:
                kwargs[name] = self._embedded(inner)
            elif marker is ta.INPUT or _is_artifact_class(inner) or ta.list_item(inner) is not None and _is_artifact_class(ta.unwrap(ta.list_item(inner))):
                if name in self.input_artifacts:
                    kwargs[name] = self.input_artifacts[name]
            elif isinstance(annotation, ta.OutputPath):
                if _is_parameter(annotation.type):
                    kwargs[name] = self._output_parameter_path(name)
                else:
                    kwargs[name] = self._output_artifact_path(name)
            elif isinstance(annotation, ta.InputPath):
                if name in self.input_artifacts:
                    kwargs[name] = self._input_artifact_path(name)
            elif self._has_parameter(name):
                kwargs[name] = _convert_parameter(name, self._parameter(name), annotation)
            # else: unset optional input; the function's default applies.
        return kwargs

    def _embedded(self, inner):
        g = getattr(self.func, "__globals__", {})
        path = g.get("__KFP_EMBEDDED_ASSET_FILE") or g.get("__KFP_EMBEDDED_ASSET_DIR")
        if not path:
            raise RuntimeError("EmbeddedInput was declared but the component embeds no asset")
        cls = inner if _is_artifact_class(inner) else artifact_types.Artifact
        a = cls()
        a.uri = path
        return a

    def execute(self):
        result = self.func(**self._arguments())
        self._write_returns(result)
        return self._write_executor_output()

    # -- outputs -----------------------------------------------------------

    def _set_parameter(self, name, annotation, value):
        t = ta.strip_optional(annotation)
        origin = typing.get_origin(t) or t
        accepted = (int, float) if origin is float else origin
        if origin in _PARAMETER_TYPES and not isinstance(value, accepted):
            raise ValueError("function %s returned %r (%s) for output %r, which is declared %s"
                             % (self.func.__name__, value, type(value).__name__, name, origin.__name__))
        self.executor_output.setdefault("parameterValues", {})[name] = value

    def _set_return(self, name, annotation, value):
        inner = ta.unwrap(annotation)
        if _is_parameter(inner):
            self._set_parameter(name, inner, value)
        elif _is_artifact_class(inner) or ta.list_item(inner) is not None:
            if isinstance(value, artifact_types.Artifact):
                expected = self.output_artifacts.get(name)
                if expected is not None and not value.name:
                    value.name = expected.name
                self.output_artifacts[name] = value
            else:
                # The function returned the artifact's content.
                path = self._output_artifact_path(name)
                _makedirs_for(path)
                with open(path, "w") as f:
                    f.write(str(value))
        else:
            raise RuntimeError("unsupported return type %r of function %s" % (annotation, self.func.__name__))

    def _write_returns(self, result):
        ret = self.hints.get("return")
        if result is None or ret is None or ret is type(None):
            return
        if _is_named_tuple(ret):
            fields = ret._fields
            types = typing.get_type_hints(ret, include_extras=True)
            if len(result) != len(fields):
                raise RuntimeError("function %s returned %d values, its NamedTuple has %d"
                                   % (self.func.__name__, len(result), len(fields)))
            for i, field in enumerate(fields):
                value = getattr(result, field) if hasattr(result, field) else result[i]
                self._set_return(field, types.get(field), value)
            return
        self._set_return("Output", ret, result)

    def _write_executor_output(self):
        artifacts = {}
        for name, art in self.output_artifacts.items():
            entry = {"name": art.name, "uri": art.uri, "metadata": art.metadata}
            if getattr(art, "custom_path", ""):
                entry["custom_path"] = art.custom_path
            artifacts[name] = {"artifacts": [entry]}
        if artifacts:
            self.executor_output["artifacts"] = artifacts
        if not self.output_file:
            return None
        _makedirs_for(self.output_file)
        with open(self.output_file, "w") as f:
            json.dump(self.executor_output, f)
        return self.output_file


def _parameter_names(func):
    """The function's parameters, from its code object (the inspect module
    would cost every component start a few milliseconds more)."""
    code = func.__code__
    n = code.co_argcount + code.co_kwonlyargcount
    return code.co_varnames[:n]


def outputs_of(executor_input):
    return executor_input.get("outputs") or {}


def _makedirs_for(path):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
