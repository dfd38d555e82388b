"""kfp.v2 is the older name of kfp's v2 API."""
from kfp import dsl  # noqa: F401
