"""Rendering for the CLI: JSON (with ``--json``) or rich tables, and one-line errors."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

console = Console(soft_wrap=True)


def jsonable(obj: Any) -> Any:
    """Convert domain objects (frozen dataclasses, enums, datetimes, numpy values) to JSON types.

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the
    output is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return str(obj)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout, and nothing else."""
    click.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def fmt_value(v: float) -> str:
    """A metric value for a table cell."""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def fmt_time(dt: datetime | None) -> str:
    """A timestamp for a table cell (local time, seconds)."""
    return "" if dt is None else dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def error(message: str) -> None:
    """One line on stderr."""
    click.echo(f"error: {message}", err=True)


def short_list(items: Sequence[str], n: int = 4) -> str:
    """``a, b, c, +2 more``."""
    head = ", ".join(items[:n])
    return head + (f", +{len(items) - n} more" if len(items) > n else "")


def is_tty() -> bool:
    """Whether stdout is a terminal."""
    return sys.stdout.isatty()
