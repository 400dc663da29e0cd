"""Turning domain objects into plain JSON data (one implementation for every layer)."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any, Literal

_FIELDS: dict[type, tuple[str, ...]] = {}
"""Field names of each dataclass converted so far (``dataclasses.fields`` is slow)."""


def to_jsonable(obj: Any, *, non_finite: Literal["null", "string"] = "string") -> Any:
    """Convert frozen dataclasses, enums, datetimes, paths, mappings and numpy values to JSON types.

    Args:
        obj: the value to convert.
        non_finite: how NaN and ±Inf are written, so the output is strict JSON: ``"string"``
            gives ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; ``"null"`` gives ``null``.

    Example:
        >>> to_jsonable({"p": float("nan"), "n": [1, 2]}, non_finite="null")
        {'p': None, 'n': [1, 2]}
    """

    def conv(o: Any) -> Any:
        # exact JSON types first: a page of runs is thousands of strings and numbers, and the
        # generic checks below (dataclass, enum, mapping, numpy) cost more than the value
        t = type(o)
        if t is str or t is int or t is bool or o is None:
            return o
        if t is float:
            if math.isfinite(o):
                return o
            if non_finite == "null":
                return None
            return "NaN" if math.isnan(o) else ("Infinity" if o > 0 else "-Infinity")
        if t is dict:
            return {k if type(k) is str else str(k): conv(v) for k, v in o.items()}
        if t is list or t is tuple:
            return [conv(v) for v in o]
        names = _FIELDS.get(t)
        if names is None and dataclasses.is_dataclass(o) and not isinstance(o, type):
            names = _FIELDS[t] = tuple(f.name for f in dataclasses.fields(o))
        if names is not None:
            return {name: conv(getattr(o, name)) for name in names}
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, PurePath):
            return str(o)
        if isinstance(o, Mapping):
            return {str(k): conv(v) for k, v in o.items()}
        if hasattr(o, "tolist"):  # numpy arrays and scalars
            return conv(o.tolist())
        if isinstance(o, (list, tuple, set, frozenset)):
            return [conv(v) for v in o]
        if isinstance(o, float) and not math.isfinite(o):
            if non_finite == "null":
                return None
            return "NaN" if math.isnan(o) else ("Infinity" if o > 0 else "-Infinity")
        if isinstance(o, (str, int, float, bool)) or o is None:
            return o
        if hasattr(o, "to_dict"):
            return conv(o.to_dict())
        return str(o)

    return conv(obj)


def holds_bool(values: Any) -> bool:
    """True when JSON data (nested lists or tuples) holds a Python bool anywhere: numpy turns
    ``[True, 0.5]`` into numbers, and a boolean is not a number to a schema (one C-level pass
    per level)."""
    if not isinstance(values, list | tuple):
        return False
    types = set(map(type, values))
    if bool in types:
        return True
    if list in types or tuple in types:
        return any(holds_bool(v) for v in values)
    return False
