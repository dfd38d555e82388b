"""TaskConfig: the task's own configuration, injected by the runtime."""


class TaskConfig:
    """Resources, environment and Kubernetes placement of the task, for a
    component that starts another workload with the same settings."""

    def __init__(self, affinity=None, tolerations=None, node_selector=None, env=None,
                 volumes=None, volume_mounts=None, resources=None):
        self.affinity = affinity
        self.tolerations = tolerations
        self.node_selector = node_selector
        self.env = env
        self.volumes = volumes
        self.volume_mounts = volume_mounts
        self.resources = resources
