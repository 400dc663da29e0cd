"""Paired and two-level (seeds, then examples) bootstrap of a metric difference."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._counted_draws import counted_draw_blocks
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
        seed_variance: metric variance across seeds (mean over groups with 2+ runs), or NaN.
        example_variance: variance of the difference due to the shared test set alone (the
            part more seeds cannot reduce).
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
    seed_variance: float
    example_variance: float

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


def _interaction_variance(per_run: FloatArray) -> float:
    """Test-set noise private to each run, as it enters the mean of a group of S runs.

    Resampling examples moves every run's metric; the part of that movement shared by the runs
    comes from the examples themselves, the rest is run-by-example interaction. The variance of
    one run's metric exceeds that of the group mean by ``(1 - 1/S)`` times the interaction
    variance, so the interaction's share in the group mean is that excess over ``S - 1``.
    """
    s = per_run.shape[1]
    if s < 2:
        return 0.0
    single = float(np.nanmean(np.nanvar(per_run, axis=0, ddof=1)))
    mean = float(np.nanvar(np.nanmean(per_run, axis=1), ddof=1))
    excess: float = max(single - mean, 0.0) / (s - 1)
    return excess


def _remove_double_counted_noise(
    distribution: FloatArray,
    example_only: FloatArray,
    per_run_base: FloatArray,
    per_run_cand: FloatArray,
    base_full: FloatArray,
    cand_full: FloatArray,
    confidence: float,
) -> FloatArray:
    """Rescale a two-level bootstrap distribution to the variance it should have.

    Seeds and examples are crossed (every run is scored on the same test set), so resampling
    both (Owen's "pigeonhole" bootstrap) counts the run-by-example interaction about three
    times: once in the seed-to-seed spread of the metric and twice more through the example
    draw. Left alone the interval is far too wide (99.5% coverage for a nominal 95% in our
    simulations). The right variance is the seed part ``s_A**2/S_A + s_B**2/S_B`` (which holds
    the interaction once) plus the example-only variance without its interaction share (see
    ``_interaction_variance``); the deviations are scaled around the centre to match it.

    With few seeds that variance is itself uncertain, so the deviations are also stretched by
    ``t_{df} / z`` at the requested confidence, ``df`` from Welch–Satterthwaite over the seed
    parts (the example part counts as known). Without it 3 seeds per group cover 87%, not 95%.
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    total = float(np.nanvar(distribution, ddof=1))
    if not np.isfinite(total) or total <= 0:
        return distribution
    seed_part = sum(float(np.var(v, ddof=1)) / v.size for v in (base_full, cand_full) if v.size > 1)
    shared_example_part = float(np.nanvar(example_only, ddof=1)) - (
        _interaction_variance(per_run_base) + _interaction_variance(per_run_cand)
    )
    target = seed_part + max(shared_example_part, 0.0)
    parts = [
        (float(np.var(v, ddof=1)) / v.size, v.size - 1)
        for v in (base_full, cand_full)
        if v.size > 1
    ]
    denominator = sum(part**2 / dof for part, dof in parts)
    if denominator > 0:
        df = target**2 / denominator
        q = 1 - (1 - confidence) / 2
        target *= (float(sps.t.ppf(q, df)) / float(sps.norm.ppf(q))) ** 2
    centre = float(np.nanmean(distribution))
    return np.asarray(centre + (distribution - centre) * np.sqrt(target / total), dtype=np.float64)


def _index_type(n: int) -> type[np.signedinteger[Any]]:
    """The narrowest index type for draws among ``n`` examples (int32 and int64 draw the same
    values from the same generator, int32 faster)."""
    return np.int32 if n < 2**31 else np.int64


def _mean_blocks(
    data: EncodedGroups,
    per_row: FloatArray,
    n_resamples: int,
    gen: np.random.Generator,
    max_block_elements: int,
    after_draw: Callable[[int], object] | None = None,
) -> Iterator[FloatArray]:
    """Yield ``(b, k)`` per-example means of the ``k`` columns of ``per_row`` (one value per
    merged row) on each resample: a block's draw counts times ``per_row``, one matrix product.

    Blocks hold a few resamples, so that each thread's counts stay small.
    """
    n, m = data.n_examples, data.rows.shape[0]

    def means(counts: FloatArray) -> FloatArray:
        return np.asarray(counts @ per_row / n, dtype=np.float64)

    return counted_draw_blocks(
        n,
        n_resamples,
        gen,
        max(1, min(16, max_block_elements // n)),
        means,
        index_type=_index_type(n),
        counts_type=np.float64,
        owner=None if m == n else np.repeat(np.arange(m), data.counts),
        n_rows=m,
        after_draw=after_draw,
    )


def _mean_difference_blocks(
    data: EncodedGroups, n_resamples: int, gen: np.random.Generator, max_block_elements: int
) -> Iterator[FloatArray]:
    """Paired bootstrap of a per-example-mean metric (accuracy, log-loss, MAE, MSE), one run each.

    Such a metric is a mean over examples, so the difference of two runs on a resample is the
    mean of their per-example differences under the draw counts.
    """
    base_col = data.baseline_columns[0].start
    cand_col = data.candidate_columns[0].start
    per_row = (data.rows[:, cand_col] - data.rows[:, base_col])[:, None]
    for values in _mean_blocks(data, per_row, n_resamples, gen, max_block_elements):
        yield values[:, 0]


def _per_run_blocks(
    data: EncodedGroups,
    n_resamples: int,
    gen: np.random.Generator,
    max_block_elements: int,
    after_draw: Callable[[int], object] | None = None,
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Yield ``(baseline (b, S_b), candidate (b, S_c))``: every run's metric on the same draws.

    One example draw is shared by all runs (pairing). Three ways, fastest first:

    * the metric has a draw evaluator (AUC): the draws are counted per example, then each
      run's values for a whole block of resamples come from one sparse product and running
      sums over its runs of one class (see ``_metrics._binary_auc_of_draws``), no sort;
    * a per-example mean (log-loss, MAE, ...) over (nearly) distinct rows: each resample's
      draw counts multiply the per-example values of all runs in one product;
    * otherwise the metric is evaluated under the draw counts of a block, run by run (with
      few distinct rows the counts are drawn as one multinomial per resample).

    The first two count and score on worker threads while the next blocks are drawn (see
    ``_counted_draws``); the random stream is the same whatever the number of threads, and
    ``after_draw(b)`` runs right after each block's draws (the seed draws of a two-level
    bootstrap).
    """
    metric = data.metric
    columns = (*data.baseline_columns, *data.candidate_columns)
    n_base = len(data.baseline_columns)
    n = data.n_examples
    blocks: Iterator[FloatArray]
    if metric.draw_evaluator is not None:
        # the examples are numbered in the first run's sort order (lexsort of its columns,
        # the last one first): any numbering is as good for uniform draws, and this one is
        # the one results have always been computed with, so a seed gives the same interval
        order = np.lexsort(data.rows[:, columns[0]].T)
        rows, counts = data.rows[order], data.counts[order]
        scorers = [metric.draw_evaluator(rows[:, c], counts) for c in columns]
        count_type = scorers[0].count_type

        def evaluate_runs(draw_counts: npt.NDArray[np.integer[Any]]) -> FloatArray:
            # laid out example by example once, for every run
            by_example = np.ascontiguousarray(draw_counts.T, dtype=count_type).T
            return np.column_stack([s.block(by_example) for s in scorers])

        blocks = counted_draw_blocks(
            n,
            n_resamples,
            gen,
            max(1, max_block_elements // (4 * n)),
            evaluate_runs,
            index_type=_index_type(n),
            counts_type=count_type,  # half the bytes to lay out when it is int32
            after_draw=after_draw,
        )
    elif metric.per_example and data.rows.shape[0] * 8 > n:  # a mean over (nearly) distinct rows
        per_row = data.rows[:, [c.start for c in columns]]
        blocks = _mean_blocks(data, per_row, n_resamples, gen, max_block_elements, after_draw)
    else:
        blocks = _weighted_blocks(data, columns, n_resamples, gen, max_block_elements)
    for values in blocks:
        yield values[:, :n_base], values[:, n_base:]


def _weighted_blocks(
    data: EncodedGroups,
    columns: tuple[slice, ...],
    n_resamples: int,
    gen: np.random.Generator,
    max_block_elements: int,
) -> Iterator[FloatArray]:
    """The general path: the metric evaluated under each block's draw counts, run by run."""
    metric = data.metric
    for weights in bootstrap_weight_blocks(data.counts, n_resamples, gen, max_block_elements):
        if metric.per_example:
            per_example = data.rows[:, [c.start for c in columns]]
            with np.errstate(invalid="ignore", divide="ignore"):
                yield (weights @ per_example) / weights.sum(axis=1, keepdims=True)
        else:
            yield np.column_stack([metric.evaluate(data.rows[:, c], weights) for c in columns])


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
    per_run_base: list[FloatArray] = [np.zeros((0, n_base))]
    per_run_cand: list[FloatArray] = [np.zeros((0, n_cand))]
    # a mean metric with (nearly) one merged row per example: gather the differences directly
    gather = not two_level and metric.per_example and data.rows.shape[0] * 8 > data.n_examples
    if gather:
        diffs = list(_mean_difference_blocks(data, n_resamples, gen, max_block_elements))
        example_only = list(diffs)
    # the seeds of each block are drawn right after its examples (by the block producer when
    # it draws ahead, or here), so the stream is the same however the blocks are produced
    picks: deque[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = deque()

    def draw_seeds(b: int) -> None:
        picks.append(
            (gen.integers(0, n_base, size=(b, n_base)), gen.integers(0, n_cand, size=(b, n_cand)))
        )

    blocks = (
        iter(())
        if gather
        else _per_run_blocks(
            data, n_resamples, gen, max_block_elements, draw_seeds if two_level else None
        )
    )
    for base, cand in blocks:
        example_only.append(cand.mean(axis=1) - base.mean(axis=1))
        per_run_base.append(base)
        per_run_cand.append(cand)
        if not two_level:
            diffs.append(cand[:, 0] - base[:, 0])
            continue
        b = base.shape[0]
        if not picks:  # a producer that does not draw ahead
            draw_seeds(b)
        pick_base, pick_cand = picks.popleft()
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
    example_distribution = np.concatenate(example_only)
    base_runs, cand_runs = np.concatenate(per_run_base), np.concatenate(per_run_cand)
    example_variance = max(
        float(np.nanvar(example_distribution, ddof=1))
        - _interaction_variance(base_runs)
        - _interaction_variance(cand_runs),
        0.0,
    )
    spreads = [float(np.var(v, ddof=1)) for v in (base_full, cand_full) if v.size > 1]
    seed_variance = float(np.mean(spreads)) if spreads else float("nan")
    if two_level:
        distribution = _remove_double_counted_noise(
            distribution,
            example_distribution,
            base_runs,
            cand_runs,
            base_full,
            cand_full,
            confidence,
        )
    low, high = percentile_interval(distribution, confidence)
    return BootstrapResult(
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        distribution=distribution,
        example_only=example_distribution,
        baseline_values=base_full,
        candidate_values=cand_full,
        two_level=two_level,
        probability_of_improvement=poi,
        poi_distribution=np.concatenate(pois) if pois else None,
        seed_variance=seed_variance,
        example_variance=example_variance,
    )
