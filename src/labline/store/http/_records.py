"""JSON from ``labline server`` back into labline's frozen records: the inverse of
:func:`labline.core.to_jsonable`, driven by each record's field types (datetimes from ISO 8601,
enums from their values, ``"NaN"``/``"Infinity"`` back to floats, nested records, tuples)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

from ...core._review import DecisionKind, ReviewReason

__all__ = ["decode_record"]

T = TypeVar("T")
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # records import some annotation-only names under TYPE_CHECKING, and public records say
    # they are ``labline``'s (whose namespace lacks their aliases): supply them
    names = {
        "datetime": datetime,
        "Mapping": Mapping,
        "Any": Any,
        "Literal": typing.Literal,
        "np": np,
        "ReviewReason": ReviewReason,
        "DecisionKind": DecisionKind,
    }
    return typing.get_type_hints(cls, localns=names)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        for option in options:
            if option is float and isinstance(value, (int, float, str)):
                return _convert(float, value)
            if option is datetime and isinstance(value, str):
                return datetime.fromisoformat(value)
        return _convert(options[0], value) if len(options) == 1 else value
    if tp is float:
        return _NON_FINITE[value] if isinstance(value, str) else float(value)
    if tp is datetime:
        return datetime.fromisoformat(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode_record(tp, value)
    if origin in (Mapping, dict) or origin is typing.Mapping:
        _, vt = typing.get_args(tp)
        return {k: _convert(vt, v) for k, v in value.items()}
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in value)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return [_convert(inner, v) for v in value]
    return value


def decode_record(cls: type[T], data: Mapping[str, Any]) -> T:
    """A frozen record of type ``cls`` from its JSON form (unknown keys ignored)."""
    hints = _hints(cls)  # type: ignore[arg-type]  # classes are hashable
    kwargs = {
        f.name: _convert(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**kwargs)
