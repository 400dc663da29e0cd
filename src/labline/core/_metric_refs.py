"""The grammar of a metric reference, as written after ``compare -m``.

``accuracy``
    a built-in per-example metric (see :data:`labline.core.stats.METRIC_NAMES`), computed
    from the runs' predictions.
``val_accuracy``, ``val_accuracy:last``, ``val_loss:min``, ``val_accuracy:max``
    a scalar metric logged with ``log_metric``; each run contributes its last (default),
    smallest or largest value, and runs are compared at run level.
``package.module:function``
    a per-example metric function (or :class:`~labline.core.stats.Metric`) to import.

A plain name that is neither built in nor logged may also be a metric registered under the
``labline.metrics`` entry-point group; that lookup is the service's (it imports code), the
grammar only says which names are candidates for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._exceptions import InvalidArgumentError
from ._grammar import check_key
from ._types import MetricSummary
from .stats._metrics import METRIC_NAMES, get_metric, higher_is_better_by_name

__all__ = ["AGGREGATES", "LoggedMetric", "MetricReference", "parse_metric_reference"]

#: How a run's logged series becomes one value.
AGGREGATES = ("last", "min", "max")

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class LoggedMetric:
    """A scalar metric logged with ``log_metric``, one value per run.

    Attributes:
        key: the logged metric's key, e.g. ``val_loss``.
        aggregate: which value of each run's series: ``last``, ``min`` or ``max``.
        higher_is_better: direction of improvement.
    """

    key: str
    aggregate: str
    higher_is_better: bool

    @property
    def name(self) -> str:
        """How reports name it: the key, with ``:min``/``:max`` when not the last value."""
        return self.key if self.aggregate == "last" else f"{self.key}:{self.aggregate}"

    def value(self, summary: MetricSummary) -> float:
        """This metric's value for one run, from the run's summary of the series."""
        if self.aggregate == "min":
            return summary.min_value
        if self.aggregate == "max":
            return summary.max_value
        return summary.last_value


@dataclass(frozen=True)
class MetricReference:
    """A parsed metric reference.

    Attributes:
        text: the reference as written.
        builtin: a built-in per-example metric's canonical name (``logged`` is then the
            same name, used when the runs share no predictions).
        logged: a logged scalar metric (for a plain name: used when no entry point has it).
        import_path: ``(module, attribute)`` of a metric to import.
        explicit_aggregate: ``:last``/``:min``/``:max`` was written, so the name is a logged
            metric and never an entry point.
    """

    text: str
    builtin: str | None = None
    logged: LoggedMetric | None = None
    import_path: tuple[str, str] | None = None
    explicit_aggregate: bool = False


def parse_metric_reference(
    text: object, *, higher_is_better: bool | None = None
) -> MetricReference:
    """Parse what follows ``-m``: built-in name, logged ``key[:last|min|max]`` or ``module:function``.

    Args:
        text: the reference.
        higher_is_better: direction for a logged metric; default from its name (lower for
            ``loss``, ``error``, ``mae``, ``mse``, ``rmse``, ...).

    Returns:
        The :class:`MetricReference`.

    Raises:
        InvalidArgumentError: empty, or ``x:y`` that is neither an aggregate nor an import path.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(
            f"metric must be a name: one of {', '.join(METRIC_NAMES)}, a logged metric such as "
            "val_accuracy or val_loss:min, or package.module:function"
        )
    raw = text.strip()
    head, colon, tail = raw.rpartition(":")
    if colon and tail.strip().lower() in AGGREGATES:
        key = check_key("metric", head.strip())
        direction = higher_is_better_by_name(key) if higher_is_better is None else higher_is_better
        return MetricReference(
            raw, logged=LoggedMetric(key, tail.strip().lower(), direction), explicit_aggregate=True
        )
    if colon:
        module, attribute = head.strip(), tail.strip()
        if not (_DOTTED.match(module) and _DOTTED.match(attribute)):
            raise InvalidArgumentError(
                f"metric {raw!r}: after ':' comes last, min or max (a logged metric), or the "
                "function of package.module:function"
            )
        return MetricReference(raw, import_path=(module, attribute))
    try:
        builtin = get_metric(raw)
    except InvalidArgumentError:
        key = check_key("metric", raw)
        direction = higher_is_better_by_name(key) if higher_is_better is None else higher_is_better
        return MetricReference(raw, logged=LoggedMetric(key, "last", direction))
    direction = builtin.higher_is_better if higher_is_better is None else higher_is_better
    return MetricReference(
        raw, builtin=builtin.name, logged=LoggedMetric(builtin.name, "last", direction)
    )
