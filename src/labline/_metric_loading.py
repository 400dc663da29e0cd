"""Which metric ``compare`` uses: built in, logged, imported, or registered as an entry point.

The grammar of a reference lives in :mod:`labline.core._metric_refs`; this module does what
the grammar cannot: import ``package.module:function`` and look up the ``labline.metrics``
entry-point group, turning what it finds into a :class:`~labline.core.stats.Metric`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._exceptions import InvalidArgumentError
from ._imports import import_attribute
from .core._metric_refs import LoggedMetric, parse_metric_reference
from .core.stats import Metric, get_metric

if TYPE_CHECKING:
    from importlib import metadata

__all__ = ["ENTRY_POINT_GROUP", "ResolvedMetric", "resolve_metric"]

#: Distributions register metrics here: ``[project.entry-points."labline.metrics"]``.
ENTRY_POINT_GROUP = "labline.metrics"


@dataclass(frozen=True)
class ResolvedMetric:
    """What a metric reference stands for.

    Attributes:
        per_example: the metric computed from per-example predictions, or ``None`` for a
            logged metric.
        logged: the logged metric compared at run level: the only form for ``val_accuracy``,
            the fallback of a built-in metric when the runs share no predictions.
    """

    per_example: Metric | None
    logged: LoggedMetric | None

    @property
    def name(self) -> str:
        """The name the report uses."""
        if self.per_example is not None:
            return self.per_example.name
        assert self.logged is not None
        return self.logged.name


def _as_metric(found: object, name: str, source: str, higher_is_better: bool | None) -> Metric:
    """A loaded object as a Metric: a Metric as is, a function wrapped under ``name``."""
    if isinstance(found, Metric):
        return found if higher_is_better is None else found.with_direction(higher_is_better)
    if callable(found):
        return Metric(name, found, higher_is_better=higher_is_better)
    raise InvalidArgumentError(
        f"metric {source!r} is a {type(found).__name__}, not a labline.Metric or a function "
        "fn(y_true, y_pred, proba=None, sample_weight=None)"
    )


def _import_attribute(module_name: str, attribute: str, source: str) -> object:
    return import_attribute(
        module_name,
        attribute,
        f"metric {source!r}",
        " (after ':' comes last, min or max for a logged metric, or the function of an "
        "importable package.module:function)",
    )


def _entry_point(name: str) -> metadata.EntryPoint | None:
    from importlib import metadata  # lazy: scanning installed distributions is not free

    found = list(metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))
    if len(found) > 1:
        owners = sorted({ep.dist.name if ep.dist else "?" for ep in found})
        raise InvalidArgumentError(
            f"metric {name!r} is registered under {ENTRY_POINT_GROUP!r} by several "
            f"distributions ({', '.join(owners)}); write package.module:function instead"
        )
    return found[0] if found else None


def resolve_metric(metric: object, *, higher_is_better: bool | None = None) -> ResolvedMetric:
    """Resolve ``metric`` to a per-example :class:`Metric` or a logged metric.

    In order: a :class:`Metric` as given; a built-in name (``accuracy``, ...); ``key:last``,
    ``key:min`` or ``key:max`` (a logged metric); ``package.module:function``; a name
    registered under the ``labline.metrics`` entry-point group; otherwise a logged metric's
    key (its last value).

    Args:
        metric: a :class:`Metric` or a reference string.
        higher_is_better: direction of improvement; ``None`` keeps the metric's own (or, for
            a name, the one its name implies: lower for losses and errors).

    Returns:
        The :class:`ResolvedMetric`.

    Raises:
        InvalidArgumentError: a malformed reference, an import or entry point that fails to
            load, or something that is not a metric.
    """
    if higher_is_better is not None and not isinstance(higher_is_better, bool):
        raise InvalidArgumentError("higher_is_better must be True, False or None")
    if isinstance(metric, Metric):
        direct = metric if higher_is_better is None else metric.with_direction(higher_is_better)
        return ResolvedMetric(direct, None)
    ref = parse_metric_reference(metric, higher_is_better=higher_is_better)
    if ref.builtin is not None:
        builtin = get_metric(ref.builtin)
        if higher_is_better is not None:
            builtin = builtin.with_direction(higher_is_better)
        return ResolvedMetric(builtin, ref.logged)
    if ref.import_path is not None:
        module_name, attribute = ref.import_path
        found = _import_attribute(module_name, attribute, ref.text)
        return ResolvedMetric(
            _as_metric(found, attribute.rsplit(".", 1)[-1], ref.text, higher_is_better), None
        )
    assert ref.logged is not None
    entry = None if ref.explicit_aggregate else _entry_point(ref.text)
    if entry is None:
        return ResolvedMetric(None, ref.logged)
    try:
        loaded = entry.load()
    except Exception as e:  # the distribution's code failed while loading
        raise InvalidArgumentError(
            f"metric {ref.text!r} (entry point {entry.value!r} in {ENTRY_POINT_GROUP!r}) failed "
            f"to load: {type(e).__name__}"
        ) from e
    return ResolvedMetric(_as_metric(loaded, entry.name, ref.text, higher_is_better), None)
