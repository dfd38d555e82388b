"""kfp.v2.dsl is kfp.dsl."""
from kfp.dsl import *  # noqa: F401,F403
from kfp.dsl import __all__  # noqa: F401
