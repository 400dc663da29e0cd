"""Paired permutation (approximate randomization) test of a metric difference.

Under the null hypothesis the two models are exchangeable on every example, so swapping
their outputs on any subset of examples is as likely as the observed assignment. On merged
rows (``c_j`` identical examples) the number swapped in row ``j`` is Binomial(c_j, 1/2); rows
where both models are encoded identically never change the statistic and are skipped. That
makes the null distribution exact and enumerable far more often than the 2**n sign vectors
a naive implementation walks through; when it is not, random swaps approximate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._data import DEFAULT_BLOCK_ELEMENTS, EncodedGroups
from ._metrics import FloatArray

__all__ = ["PermutationResult", "paired_permutation_test"]


@dataclass(frozen=True)
class PermutationResult:
    """Result of a paired permutation test.

    Attributes:
        statistic: observed ``metric(candidate) - metric(baseline)``.
        p_value: two-sided p-value (``2 * min`` of the one-sided ones, as scipy does).
        exact: the null distribution was enumerated exactly (otherwise Monte Carlo, with the
            +1 correction that keeps the test valid).
        n_resamples: null configurations evaluated (distinct ones when exact).
    """

    statistic: float
    p_value: float
    exact: bool
    n_resamples: int


def _p_two_sided(
    null: FloatArray, observed: float, probability: FloatArray | None, n_random: int
) -> float:
    # the relative tolerance scipy.stats.permutation_test uses for ties in floating point
    gamma = abs(observed) * np.finfo(np.float64).eps * 100
    ge = null >= observed - gamma
    le = null <= observed + gamma
    if probability is not None:
        p_greater, p_less = float(probability[ge].sum()), float(probability[le].sum())
    else:
        p_greater = (np.count_nonzero(ge) + 1) / (n_random + 1)
        p_less = (np.count_nonzero(le) + 1) / (n_random + 1)
    return float(min(1.0, max(0.0, 2.0 * min(p_greater, p_less))))


def _binomial_grid(sizes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Every swap-count vector s (0 <= s_j <= sizes_j) and its probability under the null."""
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    shape = tuple(int(c) + 1 for c in sizes)
    grid = (
        np.indices(shape).reshape(len(shape), -1).T if shape else np.zeros((1, 0), dtype=np.int64)
    )
    prob = np.ones(grid.shape[0])
    for j, c in enumerate(sizes):
        prob *= sps.binom.pmf(grid[:, j], int(c), 0.5)
    return grid.astype(np.int64), prob


def _enumerable(sizes: npt.NDArray[np.int64], budget: int) -> bool:
    """Whether the ``prod(sizes + 1)`` swap configurations number at most ``budget``.

    Stops as soon as the product exceeds the budget: the full product of 100,000 factors is a
    100,000-bit integer whose step-by-step computation alone took over a second.
    """
    total = 1
    for c in sizes.tolist():
        total *= int(c) + 1
        if total > budget:
            return False
    return True


def _bit_group_table(values: FloatArray, bits: int) -> FloatArray:
    """``table[g, v]``: sum of ``values[bits * g + i]`` over the bits ``i`` set in ``v``."""
    groups = -(-values.size // bits)
    padded = np.zeros(groups * bits)
    padded[: values.size] = values
    patterns = (np.arange(1 << bits)[:, None] >> np.arange(bits)[None, :]) & 1
    return np.asarray(padded.reshape(groups, bits) @ patterns.T.astype(np.float64))


def _random_swap_sums(
    values: FloatArray,
    sizes: npt.NDArray[np.int64],
    n_resamples: int,
    gen: np.random.Generator,
    max_block_elements: int,
) -> FloatArray:
    """``sum_j values_j * (sizes_j - 2 s_j)``, ``s_j ~ Binomial(sizes_j, 1/2)``, per resample.

    Continuous metrics (log-loss, MAE) have a distinct ``|d|`` for nearly every example, so
    almost every ``sizes_j`` is 1 and ``s_j`` is a fair coin. Drawing one binomial per example
    and resample would take ``n * n_resamples`` numbers (8 GB at 100,000 x 10,000); instead the
    coins are drawn ``bits`` at a time as one small integer, whose swapped sum is looked up in a
    table built once per group of ``bits`` examples: exact, in bounded blocks, ``bits`` times
    fewer draws and lookups. Rows standing for several examples keep their binomial draw.
    """
    single = sizes == 1
    ones, many, many_sizes = values[single], values[~single], sizes[~single]
    # 4 coins per lookup keeps the table (32 bytes per example) in cache; smaller when huge
    bits = next((k for k in (4, 2) if -(-ones.size // k) << k <= max_block_elements), 1)
    table = _bit_group_table(ones, bits) if ones.size else np.zeros((0, 2))
    groups = table.shape[0]
    flat = table.ravel()
    offsets = (np.arange(groups, dtype=np.intp) << bits)[None, :]
    total = float((values * sizes).sum())
    # the gathered index block is a quarter of the memory bound: smaller blocks stay in cache
    block = max(1, max_block_elements // (4 * max(1, groups + many.size)))
    parts = []
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        swapped = np.zeros(b)
        if groups:
            pattern = gen.integers(0, 1 << bits, size=(b, groups), dtype=np.uint8)
            swapped += np.take(flat, offsets + pattern).sum(axis=1)
        if many.size:
            swapped += gen.binomial(many_sizes, 0.5, size=(b, many.size)) @ many
        parts.append(total - 2.0 * swapped)
    return np.concatenate(parts) if parts else np.zeros(0)


def _as_normalised_ranks(rows: FloatArray, counts: npt.NDArray[np.int64]) -> FloatArray:
    """Replace every score column (all but the first, the label) by its midrank / n.

    Ranks are over examples (a merged row counts ``counts`` times); ties share their midrank.
    """
    n = float(counts.sum())
    out = rows.copy()
    for j in range(1, rows.shape[1]):
        values, inverse = np.unique(rows[:, j], return_inverse=True)
        per_value = np.bincount(inverse, weights=counts, minlength=values.size)
        below = np.cumsum(per_value) - per_value
        out[:, j] = (below + (per_value + 1.0) / 2.0)[inverse] / n
    return out


def paired_permutation_test(
    data: EncodedGroups,
    *,
    n_resamples: int = 10_000,
    rng: np.random.Generator | int | None = None,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> PermutationResult:
    """Two-sided paired permutation test of ``metric(candidate) - metric(baseline)``.

    Exact (the whole null distribution, with its probabilities) when the number of distinct
    swap configurations is at most ``n_resamples``; for per-example-mean metrics examples with
    equal absolute difference are pooled, so accuracy is always exact (it then equals McNemar's
    exact test). Otherwise ``n_resamples`` random swaps. For a rank-based metric (AUC) each
    model's scores are first replaced by their normalised ranks, so the test is invariant to
    any monotone transform of either model's scores (its calibration).

    Args:
        data: exactly one baseline and one candidate run, encoded for the metric.
        n_resamples: Monte Carlo resamples, and the enumeration budget for the exact test.
        rng: a numpy Generator or a seed.
        max_block_elements: memory bound of one block of resamples.

    Returns:
        The :class:`PermutationResult`.

    Raises:
        InvalidArgumentError: a group holds more than one run, or ``n_resamples`` < 1.
    """
    if len(data.baseline_columns) != 1 or len(data.candidate_columns) != 1:
        raise InvalidArgumentError(
            "the paired permutation test compares exactly one run with one run"
        )
    if n_resamples < 1:
        raise InvalidArgumentError("n_resamples must be at least 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    metric = data.metric
    rows_a = data.rows[:, data.baseline_columns[0]]
    rows_b = data.rows[:, data.candidate_columns[0]]
    counts = data.counts
    n = data.n_examples
    w_full = counts.astype(np.float64)[None, :]
    observed = float(metric.evaluate(rows_b, w_full)[0] - metric.evaluate(rows_a, w_full)[0])

    if metric.per_example:
        # T = sum_j |d_j| (c_j - 2 s_j) / n with s_j ~ Binomial(c_j, 1/2); the sign of d_j does not
        # change the distribution, so rows with the same |d| pool into one binomial.
        d = np.abs(rows_b[:, 0] - rows_a[:, 0])
        nonzero = d > 0
        values, inverse = np.unique(d[nonzero], return_inverse=True)
        sizes = np.bincount(inverse, weights=counts[nonzero], minlength=values.size).astype(
            np.int64
        )
        if values.size == 1 or _enumerable(sizes, n_resamples):
            grid, prob = _binomial_grid(sizes)
            null = ((sizes[None, :] - 2 * grid) * values[None, :]).sum(axis=1) / n
            return PermutationResult(
                observed, _p_two_sided(null, observed, prob, 0), True, int(null.size)
            )
        null = _random_swap_sums(values, sizes, n_resamples, gen, max_block_elements) / n
        return PermutationResult(
            observed, _p_two_sided(null, observed, None, n_resamples), False, n_resamples
        )

    if metric.rank_based:
        # swapping raw scores between models calibrated differently (one's scores cubed, say)
        # mixes scales and inflates the null spread; ranks make the test depend on each model's
        # ordering only, as the metric does (the observed statistic is unchanged)
        rows_a, rows_b = _as_normalised_ranks(rows_a, counts), _as_normalised_ranks(rows_b, counts)
    differs = np.any(rows_a != rows_b, axis=1)
    sizes = counts[differs]
    # virtual rows: [baseline encodings of swappable rows, candidate encodings of them, the rest]
    virtual = np.vstack([rows_a[differs], rows_b[differs], rows_a[~differs]])
    fixed = counts[~differs].astype(np.float64)

    def null_statistics(swapped: npt.NDArray[np.int64]) -> FloatArray:
        kept = sizes[None, :] - swapped
        rest = np.broadcast_to(fixed, (swapped.shape[0], fixed.size))
        w_base = np.hstack([kept, swapped, rest]).astype(np.float64)
        w_cand = np.hstack([swapped, kept, rest]).astype(np.float64)
        return np.asarray(
            metric.evaluate(virtual, w_cand) - metric.evaluate(virtual, w_base), dtype=np.float64
        )

    block = max(1, max_block_elements // max(1, virtual.shape[0]))
    if _enumerable(sizes, n_resamples):
        grid, prob = _binomial_grid(sizes)
        null = np.concatenate(
            [null_statistics(grid[i : i + block]) for i in range(0, grid.shape[0], block)]
        )
        return PermutationResult(
            observed, _p_two_sided(null, observed, prob, 0), True, int(null.size)
        )
    parts = []
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        parts.append(null_statistics(gen.binomial(sizes, 0.5, size=(b, sizes.size))))
    null = np.concatenate(parts)
    return PermutationResult(
        observed, _p_two_sided(null, observed, None, n_resamples), False, n_resamples
    )
