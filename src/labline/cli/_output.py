"""Rendering for the CLI: JSON (with ``--json``) or rich tables, and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console

from ..core import to_jsonable

console = Console(soft_wrap=True)


def jsonable(obj: Any) -> Any:
    """Domain objects as JSON data; NaN and ±Inf as ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    return to_jsonable(obj, non_finite="string")


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
