"""Checks on the values a run logs (params, metrics), shared by every store backend and the
tracking API. Keys and names are a grammar: see :mod:`labline.core._grammar`."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .._exceptions import InvalidArgumentError

MAX_PARAM_VALUE_LEN = 6000
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def param_value(key: str, value: Any) -> str:
    """Render a param value as stored text (``str``), checking its length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LEN:
        raise InvalidArgumentError(
            f"param {key!r} value is {len(text)} characters long; the limit is {MAX_PARAM_VALUE_LEN}"
        )
    return text


def metric_value(key: str, value: Any) -> float:
    """Return ``value`` as a float (NaN and ±Inf allowed), else raise InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars are numbers.Real; strings, None, lists and booleans are not metrics
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise InvalidArgumentError(
            f"metric {key!r} value must be a real number, got {type(value).__name__} {shown}"
        )
    return float(value)


def metric_step(key: str, step: Any) -> int:
    """Return ``step`` as an int if it is an integer within int64, else raise InvalidArgumentError."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        # numpy integers are numbers.Integral; floats, strings and booleans are not steps
        raise InvalidArgumentError(
            f"metric {key!r} step must be an integer, got {type(step).__name__}"
        )
    as_int = int(step)
    if not INT64_MIN <= as_int <= INT64_MAX:
        raise InvalidArgumentError(f"metric {key!r} step {as_int} is outside the 64-bit range")
    return as_int


def metric_timestamp(key: str, timestamp: Any) -> float:
    """Return ``timestamp`` (seconds since the epoch) as a float, else raise InvalidArgumentError."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
        raise InvalidArgumentError(
            f"metric {key!r} timestamp must be a real number of seconds since the epoch, "
            f"got {type(timestamp).__name__}"
        )
    return float(timestamp)


def is_finite(x: float) -> bool:
    """True if ``x`` is neither NaN nor infinite."""
    return math.isfinite(x)


_WRITER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_metric_batch(batch: Any) -> tuple[str, int]:
    """Check the id of a batch of metric points: ``(writer, seq)`` with ``writer`` 1-64
    characters of letters, digits, ``.``, ``_``, ``-`` and ``seq`` an integer in 0..2**63-1.

    Raises:
        InvalidArgumentError: names ``writer`` or ``seq``.

    Example:
        >>> check_metric_batch(("w1", 3))
        ('w1', 3)
    """
    if not isinstance(batch, tuple) or len(batch) != 2:
        raise InvalidArgumentError("batch must be (writer, seq)")
    writer, seq = batch
    if not isinstance(writer, str) or not 0 < len(writer) <= 64 or set(writer) - _WRITER_CHARS:
        raise InvalidArgumentError(
            "writer must be 1-64 letters, digits, '.', '_' or '-' (the metric batch's writer id)"
        )
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= INT64_MAX:
        raise InvalidArgumentError("seq must be an integer in 0..2**63-1")
    return writer, seq
