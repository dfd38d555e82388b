"""kfp.components: the path annotations older components import from here."""
from kfp.dsl.types.type_annotations import InputPath, OutputPath  # noqa: F401
