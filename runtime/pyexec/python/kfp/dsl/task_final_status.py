"""The final status an exit handler receives."""


class PipelineTaskFinalStatus:
    """The state of the task an exit handler guards (SUCCEEDED, FAILED,
    CANCELLED), with the run's name and the error.

    A plain class rather than a dataclass: importing dataclasses (and the
    inspect module it pulls in) would cost every component start."""

    __slots__ = ("state", "pipeline_job_resource_name", "pipeline_task_name", "error_code", "error_message")

    def __init__(self, state, pipeline_job_resource_name, pipeline_task_name, error_code, error_message):
        self.state = state
        self.pipeline_job_resource_name = pipeline_job_resource_name
        self.pipeline_task_name = pipeline_task_name
        self.error_code = error_code
        self.error_message = error_message

    def __eq__(self, other):
        return isinstance(other, PipelineTaskFinalStatus) and all(
            getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __repr__(self):
        return "PipelineTaskFinalStatus(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.__slots__)
