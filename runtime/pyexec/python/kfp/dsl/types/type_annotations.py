"""Input/Output annotations, InputPath/OutputPath and helpers to read a
component function's signature."""

import typing


class _Marker:
    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return "<%s>" % self.kind


INPUT = _Marker("input")
OUTPUT = _Marker("output")
EMBEDDED = _Marker("embedded")


class _Wrapper:
    """Input[T], Output[T] and EmbeddedInput[T] are Annotated[T, marker]."""

    _marker = None

    def __class_getitem__(cls, item):
        return typing.Annotated[item, cls._marker]


class Input(_Wrapper):
    """An input artifact: Input[Dataset]."""

    _marker = INPUT


class Output(_Wrapper):
    """An output artifact the component writes: Output[Model]."""

    _marker = OUTPUT


class EmbeddedInput(_Wrapper):
    """A file or directory embedded in the component at compile time."""

    _marker = EMBEDDED


class InputPath:
    """A parameter that receives the path of an input artifact's file."""

    def __init__(self, type=None):
        self.type = type

    def __repr__(self):
        return "InputPath(%r)" % (self.type,)


class OutputPath:
    """A parameter that receives the path where an output goes."""

    def __init__(self, type=None):
        self.type = type

    def __repr__(self):
        return "OutputPath(%r)" % (self.type,)


def strip_optional(annotation):
    """Optional[X] is X."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def marker_of(annotation):
    """The Input/Output/EmbeddedInput marker of an annotation, or None."""
    if typing.get_origin(annotation) is typing.Annotated:
        for m in annotation.__metadata__:
            if isinstance(m, _Marker):
                return m
    return None


def unwrap(annotation):
    """The type inside Input[...]/Output[...]."""
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def list_item(annotation):
    """T for List[T] / list[T], else None."""
    if typing.get_origin(annotation) in (list, typing.List):
        args = typing.get_args(annotation)
        return args[0] if args else None
    return None
