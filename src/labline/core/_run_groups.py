"""Runs grouped by a param, with the mean and confidence interval of metrics across each group
(the seeds of one configuration): what a runs table shows in its grouped view. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._exceptions import InvalidArgumentError
from ._types import MeanInterval, Run, RunGroup

__all__ = ["group_runs", "mean_interval"]


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> MeanInterval:
    """The mean of the finite ``values`` with a Student-t interval at ``confidence``.

    Args:
        values: one value per run (NaN and infinities are left out).
        confidence: level of the interval, in (0, 1).

    Returns:
        A :class:`MeanInterval` (interval NaN with fewer than two finite values).

    Raises:
        InvalidArgumentError: ``confidence`` outside (0, 1).

    Example:
        >>> m = mean_interval([1.0, 2.0, 3.0])
        >>> m.mean, round(m.low, 4), round(m.high, 4)
        (2.0, -0.4841, 4.4841)
    """
    from scipy import stats as sps

    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence!r}")
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return MeanInterval(0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return MeanInterval(n, mean, math.nan, math.nan)
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return MeanInterval(n, mean, mean - half, mean + half)


def group_runs(
    runs: Sequence[Run], param: str, metrics: Sequence[str], confidence: float = 0.95
) -> list[RunGroup]:
    """Group ``runs`` by their value of ``param`` and summarise ``metrics`` per group.

    Each run contributes its metric's last value. Groups come in the order their first run
    appears in ``runs``; runs without the param form the group with value ``None``, last.

    Args:
        runs: the runs (e.g. one search's results).
        param: the param key to group by.
        metrics: metric keys to summarise.
        confidence: level of the intervals.

    Returns:
        One :class:`RunGroup` per distinct value.
    """
    members: dict[str | None, list[Run]] = {}
    for run in runs:
        members.setdefault(run.params.get(param), []).append(run)
    order = [v for v in members if v is not None] + ([None] if None in members else [])
    groups = []
    for value in order:
        group = members[value]
        summary = {
            key: mean_interval(
                [r.metrics[key].last_value for r in group if key in r.metrics], confidence
            )
            for key in metrics
        }
        groups.append(RunGroup(param, value, tuple(r.id for r in group), summary))
    return groups
