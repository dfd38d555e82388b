"""The runtime side of kfp.dsl: what component code imports.

Names that only make sense while compiling a pipeline (pipeline, If,
ParallelFor, importer...) exist so that `from kfp.dsl import *` and
decorated definitions still import, and raise if they are used.
"""

from kfp.dsl.task_config import TaskConfig
from kfp.dsl.task_final_status import PipelineTaskFinalStatus
from kfp.dsl.types.artifact_types import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Markdown,
    Metrics,
    Model,
    SlicedClassificationMetrics,
    get_uri,
)
from kfp.dsl.types.type_annotations import EmbeddedInput, Input, InputPath, Output, OutputPath

# Placeholders a pipeline passes to components; inside a running component
# they are only strings.
PIPELINE_JOB_NAME_PLACEHOLDER = "{{$.pipeline_job_name}}"
PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER = "{{$.pipeline_job_resource_name}}"
PIPELINE_JOB_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"
PIPELINE_TASK_NAME_PLACEHOLDER = "{{$.pipeline_task_name}}"
PIPELINE_TASK_ID_PLACEHOLDER = "{{$.pipeline_task_uuid}}"
PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER = "{{$.pipeline_job_create_time_utc}}"
PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER = "{{$.pipeline_job_schedule_time_utc}}"
PIPELINE_ROOT_PLACEHOLDER = "{{$.pipeline_root}}"
WORKSPACE_PATH_PLACEHOLDER = "{{$.workspace_path}}"


def _decorator(*args, **kwargs):
    """@component, @component(...): the function itself at run time."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda func: func


component = _decorator
container_component = _decorator
notebook_component = _decorator
pipeline = _decorator


class _CompileTimeOnly:
    """A name of the pipeline DSL, which a running component cannot use."""

    def __init__(self, name):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError("kfp.dsl.%s defines pipelines; it cannot be used inside a running component "
                           "(kfstack's built-in kfp has the component runtime only)" % self._name)

    def __getitem__(self, item):
        return self


for _name in ("importer", "If", "Elif", "Else", "Condition", "ExitHandler", "ParallelFor", "Collected",
              "OneOf", "ContainerSpec", "ConcatPlaceholder", "IfPresentPlaceholder", "PipelineConfig",
              "WorkspaceConfig", "KubernetesWorkspaceConfig", "PipelineTask", "run_notebook"):
    globals()[_name] = _CompileTimeOnly(_name)
del _name

__all__ = [
    "Artifact", "ClassificationMetrics", "Dataset", "HTML", "Markdown", "Metrics", "Model",
    "SlicedClassificationMetrics", "Input", "Output", "InputPath", "OutputPath", "EmbeddedInput",
    "PipelineTaskFinalStatus", "TaskConfig", "get_uri", "component", "container_component",
    "notebook_component", "pipeline", "importer", "If", "Elif", "Else", "Condition", "ExitHandler",
    "ParallelFor", "Collected", "OneOf", "ContainerSpec", "ConcatPlaceholder", "IfPresentPlaceholder",
    "PipelineConfig", "WorkspaceConfig", "KubernetesWorkspaceConfig", "PipelineTask",
    "PIPELINE_JOB_NAME_PLACEHOLDER", "PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER", "PIPELINE_JOB_ID_PLACEHOLDER",
    "PIPELINE_TASK_NAME_PLACEHOLDER", "PIPELINE_TASK_ID_PLACEHOLDER", "PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER",
    "PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER", "PIPELINE_ROOT_PLACEHOLDER", "WORKSPACE_PATH_PLACEHOLDER",
]
