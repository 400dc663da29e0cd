"""Paired and two-level (seeds, then examples) bootstrap of a metric difference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._exceptions import InvalidArgumentError
from ._data import DEFAULT_BLOCK_ELEMENTS, EncodedGroups, bootstrap_weight_blocks
from ._metrics import FloatArray

__all__ = ["BootstrapResult", "bootstrap_difference", "bootstrap_p_value", "percentile_interval"]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """The bootstrap distribution of ``mean(candidate runs) - mean(baseline runs)``.

    Attributes:
        estimate: the difference on the full data (candidate minus baseline, metric units).
        ci_low, ci_high: percentile confidence interval of the difference.
        confidence: its level, e.g. 0.95.
        distribution: the resampled differences (NaN where the metric was undefined).
        example_only: the differences when only examples are resampled (seeds kept fixed);
            its spread is the test-set part of the uncertainty.
        baseline_values, candidate_values: the metric of each run on the full data.
        two_level: seeds were resampled too (a group holds more than one run).
        probability_of_improvement: P(a random candidate run beats a random baseline run)
            on the full data (ties count one half); ``None`` for one run per group.
        poi_distribution: its resampled values, or ``None``.
    """

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    distribution: FloatArray
    example_only: FloatArray
    baseline_values: FloatArray
    candidate_values: FloatArray
    two_level: bool
    probability_of_improvement: float | None
    poi_distribution: FloatArray | None

    @property
    def n_resamples(self) -> int:
        """How many resamples the distribution holds."""
        return int(self.distribution.shape[0])


def percentile_interval(distribution: FloatArray, confidence: float) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution (linear interpolation, NaNs ignored)."""
    tail = (1.0 - confidence) / 2.0
    finite = distribution[np.isfinite(distribution)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_p_value(distribution: FloatArray, null_value: float = 0.0) -> float:
    """Two-sided p-value of ``difference == null_value`` by inverting the percentile interval.

    ``2 * min(P*(d <= null), P*(d >= null))`` with the +1 correction of Monte Carlo tests, so a
    ``1 - alpha`` percentile interval excludes ``null_value`` exactly when this is below alpha.
    """
    finite = distribution[np.isfinite(distribution)]
    b = finite.size
    below = (np.count_nonzero(finite <= null_value) + 1) / (b + 1)
    above = (np.count_nonzero(finite >= null_value) + 1) / (b + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def _pairwise_improvement(cand: FloatArray, base: FloatArray) -> FloatArray:
    """Mean over pairs of 1[c > b] + 0.5 * 1[c == b], row by row; shapes (b, S_c), (b, S_b)."""
    diff = cand[:, :, None] - base[:, None, :]
    return np.asarray(((diff > 0) + 0.5 * (diff == 0)).mean(axis=(1, 2)), dtype=np.float64)


def _inflate(values: FloatArray) -> FloatArray:
    """Spread seeds around their mean by sqrt(S / (S - 1)).

    Resampling S seeds with replacement gives their mean a variance of (S - 1) / S times the
    sample variance over S; inflating the deviations first makes it the unbiased s**2 / S, which
    keeps the interval from being too narrow with few seeds (the "variance-corrected" bootstrap).
    """
    s = values.shape[1]
    if s < 2:
        return values
    centre = values.mean(axis=1, keepdims=True)
    return np.asarray(centre + (values - centre) * np.sqrt(s / (s - 1)), dtype=np.float64)


def bootstrap_difference(
    data: EncodedGroups,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> BootstrapResult:
    """Bootstrap the metric difference, recomputing the metric on every resample.

    With one run per group this is the paired bootstrap: examples are drawn with replacement
    and both runs are scored on the same draw. With several runs (seeds) in a group it is the
    two-level bootstrap: each resample also draws, with replacement, as many seeds as the group
    has, so the interval carries the seed-to-seed variance as well as the test-set variance.
    Seed deviations are inflated by sqrt(S / (S - 1)) before the seed draw (see ``_inflate``).

    Args:
        data: baseline and candidate runs encoded for the metric.
        n_resamples: number of bootstrap resamples.
        confidence: level of the percentile interval.
        rng: a numpy Generator or a seed.
        max_block_elements: memory bound of one block of resamples.

    Returns:
        The :class:`BootstrapResult`.

    Raises:
        InvalidArgumentError: ``n_resamples`` < 1 or ``confidence`` outside (0, 1).
    """
    if n_resamples < 1:
        raise InvalidArgumentError("n_resamples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise InvalidArgumentError("confidence must lie strictly between 0 and 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    metric = data.metric
    sign = 1.0 if metric.higher_is_better else -1.0
    n_base, n_cand = len(data.baseline_columns), len(data.candidate_columns)
    two_level = n_base > 1 or n_cand > 1

    base_full = data.run_values(data.baseline_columns)
    cand_full = data.run_values(data.candidate_columns)
    estimate = float(cand_full.mean() - base_full.mean())
    poi = (
        float(_pairwise_improvement(sign * cand_full[None], sign * base_full[None])[0])
        if two_level
        else None
    )

    diffs: list[FloatArray] = []
    example_only: list[FloatArray] = []
    pois: list[FloatArray] = []
    # one example draw is shared by all runs (pairing); leave room for each run's metric call
    for weights in bootstrap_weight_blocks(data.counts, n_resamples, gen, max_block_elements):
        base = np.column_stack(
            [metric.evaluate(data.rows[:, c], weights) for c in data.baseline_columns]
        )
        cand = np.column_stack(
            [metric.evaluate(data.rows[:, c], weights) for c in data.candidate_columns]
        )
        example_only.append(cand.mean(axis=1) - base.mean(axis=1))
        if not two_level:
            diffs.append(cand[:, 0] - base[:, 0])
            continue
        b = weights.shape[0]
        pick_base = gen.integers(0, n_base, size=(b, n_base))
        pick_cand = gen.integers(0, n_cand, size=(b, n_cand))
        base_s = np.take_along_axis(_inflate(base), pick_base, axis=1)
        cand_s = np.take_along_axis(_inflate(cand), pick_cand, axis=1)
        diffs.append(cand_s.mean(axis=1) - base_s.mean(axis=1))
        pois.append(
            _pairwise_improvement(
                sign * np.take_along_axis(cand, pick_cand, axis=1),
                sign * np.take_along_axis(base, pick_base, axis=1),
            )
        )

    distribution = np.concatenate(diffs)
    low, high = percentile_interval(distribution, confidence)
    return BootstrapResult(
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        distribution=distribution,
        example_only=np.concatenate(example_only),
        baseline_values=base_full,
        candidate_values=cand_full,
        two_level=two_level,
        probability_of_improvement=poi,
        poi_distribution=np.concatenate(pois) if pois else None,
    )
