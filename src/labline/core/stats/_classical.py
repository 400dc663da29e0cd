"""Closed-form pieces: McNemar's exact test, Holm–Bonferroni, TOST, probability of improvement,
and the number of seeds needed to detect an effect."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._bootstrap import percentile_interval
from ._data import EncodedGroups
from ._metrics import FloatArray

__all__ = [
    "McNemarResult",
    "holm_bonferroni",
    "mcnemar_exact",
    "mcnemar_from_encoded",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "seeds_needed",
    "tost_from_bootstrap",
    "tost_paired_t",
]


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on the discordant pairs.

    Attributes:
        baseline_only: examples the baseline got right and the candidate wrong.
        candidate_only: examples the candidate got right and the baseline wrong.
        p_value: exact two-sided p-value (binomial test of the discordant pairs at 1/2).
    """

    baseline_only: int
    candidate_only: int
    p_value: float


def mcnemar_exact(baseline_only: int, candidate_only: int) -> float:
    """Exact two-sided McNemar p-value, ``min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))``.

    Matches ``statsmodels.stats.contingency_tables.mcnemar(table, exact=True)``.

    Example:
        >>> round(mcnemar_exact(15, 19), 4)
        0.6076
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    if baseline_only < 0 or candidate_only < 0:
        raise InvalidArgumentError("McNemar counts must be non-negative")
    total = baseline_only + candidate_only
    if total == 0:
        return 1.0
    return float(min(1.0, 2.0 * sps.binom.cdf(min(baseline_only, candidate_only), total, 0.5)))


def mcnemar_from_encoded(data: EncodedGroups) -> McNemarResult:
    """McNemar's exact test for accuracy of one baseline run against one candidate run.

    Raises:
        InvalidArgumentError: the metric is not accuracy or a group holds more than one run.
    """
    if data.metric.name != "accuracy":
        raise InvalidArgumentError("McNemar's test applies to accuracy only")
    if len(data.baseline_columns) != 1 or len(data.candidate_columns) != 1:
        raise InvalidArgumentError("McNemar's test compares exactly one run with one run")
    a = data.rows[:, data.baseline_columns[0]][:, 0] > 0.5
    b = data.rows[:, data.candidate_columns[0]][:, 0] > 0.5
    baseline_only = int(data.counts[a & ~b].sum())
    candidate_only = int(data.counts[~a & b].sum())
    return McNemarResult(
        baseline_only, candidate_only, mcnemar_exact(baseline_only, candidate_only)
    )


def holm_bonferroni(p_values: npt.ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p-values (family-wise error control), in input order.

    Example:
        >>> holm_bonferroni([0.01, 0.04, 0.03]).round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise InvalidArgumentError("p_values must be one-dimensional")
    m = p.size
    order = np.argsort(p, kind="mergesort")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, stepped)
    return adjusted


def tost_paired_t(x: npt.ArrayLike, y: npt.ArrayLike, low: float, high: float) -> float:
    """Two one-sided paired t-tests that the mean of ``x - y`` lies in ``(low, high)``.

    Matches ``statsmodels.stats.weightstats.ttost_paired(x, y, low, high)[0]``.

    Returns:
        The TOST p-value (the larger of the two one-sided p-values).
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    if d.ndim != 1 or d.size < 2:
        raise InvalidArgumentError(
            "tost_paired_t needs two equal-length samples of at least 2 values"
        )
    se = d.std(ddof=1) / math.sqrt(d.size)
    df = d.size - 1
    p_low = sps.t.sf((d.mean() - low) / se, df)
    p_high = sps.t.cdf((d.mean() - high) / se, df)
    return float(max(p_low, p_high))


def tost_from_bootstrap(distribution: FloatArray, margin: float) -> float:
    """TOST p-value that a difference lies within ``±margin``, from its bootstrap distribution.

    It is below alpha exactly when the ``1 - 2 alpha`` percentile interval lies inside
    ``(-margin, margin)``.
    """
    if not (math.isfinite(margin) and margin > 0):
        raise InvalidArgumentError("the equivalence margin must be a positive finite number")
    finite = distribution[np.isfinite(distribution)]
    b = finite.size
    p_low = (np.count_nonzero(finite <= -margin) + 1) / (b + 1)
    p_high = (np.count_nonzero(finite >= margin) + 1) / (b + 1)
    return float(max(p_low, p_high))


def _improvement_per_task(x: FloatArray, y: FloatArray) -> FloatArray:
    """Mann–Whitney U / (n_x n_y) per task; x (..., n_x, tasks), y (..., n_y, tasks)."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    return np.asarray(((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-3, -2)), dtype=np.float64)


def probability_of_improvement(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """P(X > Y): the probability that a run of X beats a run of Y, averaged over tasks.

    As defined in rliable (Agarwal et al. 2021) and Bouthillier et al. (2021): for each task,
    the Mann–Whitney U statistic divided by ``n_x * n_y`` (ties count one half), then the mean
    over tasks.

    Args:
        x: scores of shape ``(runs_x, tasks)`` (or ``(runs_x,)`` for one task).
        y: scores of shape ``(runs_y, tasks)``.

    Returns:
        The probability of improvement in [0, 1].

    Example:
        >>> probability_of_improvement([[1, 2], [2, 2], [1, 1], [2, 1]], [[1, 1], [2, 2], [3, 3]])
        0.3333333333333333
    """
    xa, ya = _as_runs_by_tasks(x, "x"), _as_runs_by_tasks(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise InvalidArgumentError("x and y must have the same number of tasks")
    return float(_improvement_per_task(xa, ya).mean())


def probability_of_improvement_ci(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    n_resamples: int = 2_000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float, float]:
    """Probability of improvement with a percentile interval from a stratified bootstrap.

    Runs are resampled with replacement within each task, independently for X and Y, as
    rliable's ``StratifiedBootstrap`` does.

    Returns:
        ``(estimate, ci_low, ci_high)``.
    """
    xa, ya = _as_runs_by_tasks(x, "x"), _as_runs_by_tasks(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise InvalidArgumentError("x and y must have the same number of tasks")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    tasks = np.arange(xa.shape[1])
    values = []
    block = max(1, 200_000 // max(1, xa.shape[0] * ya.shape[0] * tasks.size))
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        ix = gen.integers(0, xa.shape[0], size=(b, xa.shape[0], tasks.size))
        iy = gen.integers(0, ya.shape[0], size=(b, ya.shape[0], tasks.size))
        values.append(_improvement_per_task(xa[ix, tasks], ya[iy, tasks]).mean(axis=-1))
    low, high = percentile_interval(np.concatenate(values), confidence)
    return float(_improvement_per_task(xa, ya).mean()), low, high


def _as_runs_by_tasks(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must have shape (runs, tasks) with at least one run")
    return arr


def seeds_needed(
    seed_variance: float,
    example_variance: float,
    min_effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int | None:
    """Seeds per group needed to detect ``min_effect`` with the given power (normal approximation).

    The variance of the difference of group means is ``2 * seed_variance / S + example_variance``
    (seed-to-seed variance shrinks with seeds S; the shared test set's does not). Detecting
    ``min_effect`` with a two-sided level-``alpha`` test and the given power needs that variance
    below ``(min_effect / (z_{1-alpha/2} + z_power))**2``.

    Args:
        seed_variance: variance of the metric across seeds of one configuration.
        example_variance: variance of the difference due to test-set sampling alone.
        min_effect: the smallest difference worth detecting (metric units, positive).
        alpha: test level.
        power: wanted probability of detecting ``min_effect``.

    Returns:
        Seeds per group (at least 2), or ``None`` when the test set alone is too noisy for
        any number of seeds: more examples are needed.
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    if not (math.isfinite(min_effect) and min_effect > 0):
        raise InvalidArgumentError("min_effect must be a positive finite number")
    z = float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))
    budget = (min_effect / z) ** 2 - max(example_variance, 0.0)
    if budget <= 0:
        return None
    return max(2, math.ceil(2.0 * max(float(seed_variance), 0.0) / float(budget)))
