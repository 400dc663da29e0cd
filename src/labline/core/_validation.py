"""Checks on the values a run logs (params, metrics), shared by every store backend and the
tracking API. Keys and names are a grammar: see :mod:`labline.core._grammar`."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .._exceptions import InvalidArgumentError
from ._grammar import MAX_NAME_LEN

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


MAX_SELECTOR_LEN = 1000
"""The longest run selector a hypothesis stores as its baseline or candidate."""


def _text(value: object, field: str, limit: int | None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidArgumentError(f"{field} must be a non-empty string")
    if limit is not None and len(text) > limit:
        raise InvalidArgumentError(f"{field} is longer than {limit} characters")
    return text


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{field} must be a number")
    return float(value)


def _integer(value: object, field: str) -> int:
    # integral floats (3.0) pass; 2.7 would otherwise be truncated silently
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) < value < 2**63:
        raise InvalidArgumentError(f"{field} must be an integer")
    return value


def check_hypothesis_fields(
    *,
    statement: object,
    baseline: object,
    candidate: object,
    metric: object,
    dataset: object,
    min_effect: object,
    alpha: object,
    seeds: object,
    supersedes: object,
) -> dict[str, Any]:
    """Check the fields of a hypothesis before it is stored (every store backend calls this).

    Returns:
        The fields normalised: texts stripped, numbers as floats, ``seeds`` and ``supersedes``
        as integers (``3.0`` is 3; ``2.7`` is refused, never truncated).

    Raises:
        InvalidArgumentError: naming the first field that is not acceptable.

    Example:
        >>> f = check_hypothesis_fields(statement=" B beats A ", baseline="d:m=a",
        ...     candidate="d:m=b", metric="accuracy", dataset=None, min_effect=0,
        ...     alpha=0.05, seeds=5.0, supersedes=None)
        >>> f["statement"], f["seeds"]
        ('B beats A', 5)
    """
    fields: dict[str, Any] = {
        "statement": _text(statement, "statement", None),
        "baseline": _text(baseline, "baseline", MAX_SELECTOR_LEN),
        "candidate": _text(candidate, "candidate", MAX_SELECTOR_LEN),
        "metric": _text(metric, "metric", MAX_NAME_LEN),
        "dataset": None if dataset is None else _text(dataset, "dataset", MAX_NAME_LEN),
        "min_effect": _number(min_effect, "min_effect"),
        "alpha": _number(alpha, "alpha"),
        "seeds": _integer(seeds, "seeds"),
        "supersedes": None if supersedes is None else _integer(supersedes, "supersedes"),
    }
    if not (math.isfinite(fields["min_effect"]) and fields["min_effect"] >= 0):
        raise InvalidArgumentError("min_effect must be a finite number >= 0")
    if not 0.0 < fields["alpha"] < 1.0:
        raise InvalidArgumentError("alpha must lie strictly between 0 and 1")
    if fields["seeds"] < 1:
        raise InvalidArgumentError("seeds must be at least 1")
    return fields
