"""The final status an exit handler receives."""

import dataclasses
import typing


@dataclasses.dataclass
class PipelineTaskFinalStatus:
    """The state of the task an exit handler guards (SUCCEEDED, FAILED,
    CANCELLED), with the run's name and the error."""

    state: str
    pipeline_job_resource_name: str
    pipeline_task_name: str
    error_code: typing.Optional[int]
    error_message: typing.Optional[str]
