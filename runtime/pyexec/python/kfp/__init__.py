"""kfstack's stand-in for the parts of the Kubeflow Pipelines SDK that a
Python-function component imports when it runs.

The kfstack launcher puts this package on PYTHONPATH when a task's image
has no `kfp` installed and no package index to install it from. It
implements the executor protocol (`python3 -m kfp.dsl.executor_main`) and
the runtime side of `kfp.dsl`: artifact classes, Input/Output annotations,
InputPath/OutputPath, NamedTuple returns, PipelineTaskFinalStatus. It is
written for kfstack from the documented protocol, with the standard
library only. Compiling pipelines needs the real SDK.
"""

__version__ = "2.14.0+kfstack"

# Lets a component tell which implementation it runs on.
KFSTACK_BUILTIN = True
