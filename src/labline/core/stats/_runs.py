"""Run-level comparison: each run's logged value of a metric is one observation.

When the runs share no per-example predictions (any metric logged with ``log_metric``, e.g.
``val_accuracy`` or ``val_loss:min``), the test set's sampling noise cannot be told apart from
seed noise, so the runs themselves are the units of analysis. Two designs:

- **paired by seed**: both groups ran the same seeds (the ``seed`` param), so run ``i`` of the
  baseline and run ``i`` of the candidate share whatever the seed fixes (initialisation, data
  order, split). The differences per seed are analysed: a bootstrap over seed pairs, a
  sign-flip permutation test over seed pairs, and the paired t-test as a cross-check.
- **unpaired**: otherwise. A bootstrap over runs (each group resampled on its own), a
  permutation test over runs (group labels shuffled), and Welch's t-test as a cross-check.

The permutation test decides the verdict: it assumes only exchangeability under the null, so
it keeps its level with few runs whatever their distribution. With very few runs it cannot
reach ``alpha`` at all (5 seed pairs have 32 sign patterns: p >= 1/16); then the t-test decides
and the notes say so and what it assumes. The other test is reported beside it as a cross-check
and a disagreement is stated. The interval is the bootstrap's, widened for few runs (see
:func:`_small_sample_interval_scale`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._bootstrap import percentile_interval
from ._classical import probability_of_improvement_ci, seeds_needed, tost_from_bootstrap
from ._metrics import FloatArray
from ._permutation import PermutationResult, _p_two_sided
from ._verdict import (
    MIN_SEEDS,
    CrossCheck,
    DifferenceAnalysis,
    Verdict,
    check_margin_and_min_effect,
    decide_verdict,
    histogram_of,
)

__all__ = [
    "TTestResult",
    "analyze_run_values",
    "pair_by_seed",
    "paired_t_test",
    "run_bootstrap",
    "run_permutation_test",
    "welch_t_test",
]


@dataclass(frozen=True)
class TTestResult:
    """A t-test of ``mean(candidate) - mean(baseline)``.

    Attributes:
        statistic: the t statistic (positive when the candidate's mean is larger).
        df: degrees of freedom (Welch–Satterthwaite for the unpaired test).
        p_value: two-sided p-value.
        standard_error: standard error of the mean difference.
    """

    statistic: float
    df: float
    p_value: float
    standard_error: float


def _as_values(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one value per run (one-dimensional)")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name}: every run's metric value must be finite")
    return arr


def _t_result(estimate: float, variance: float, df: float) -> TTestResult:
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    se = math.sqrt(max(variance, 0.0))
    if se == 0.0:
        # no spread at all: any difference is certain, none is no evidence
        statistic = 0.0 if estimate == 0 else math.copysign(math.inf, estimate)
        return TTestResult(statistic, df, 1.0 if estimate == 0 else 0.0, 0.0)
    statistic = estimate / se
    return TTestResult(statistic, df, float(2 * sps.t.sf(abs(statistic), df)), se)


def welch_t_test(baseline: npt.ArrayLike, candidate: npt.ArrayLike) -> TTestResult:
    """Welch's unequal-variance t-test of ``mean(candidate) - mean(baseline)``.

    Args:
        baseline: one value per baseline run (at least 2).
        candidate: one value per candidate run (at least 2).

    Returns:
        The :class:`TTestResult` (as ``scipy.stats.ttest_ind(candidate, baseline,
        equal_var=False)``).

    Raises:
        InvalidArgumentError: fewer than 2 runs in a group, or non-finite values.
    """
    a, b = _as_values(baseline, "baseline"), _as_values(candidate, "candidate")
    if a.size < 2 or b.size < 2:
        raise InvalidArgumentError("Welch's t-test needs at least 2 runs in each group")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    denominator = va**2 / (a.size - 1) + vb**2 / (b.size - 1)
    df = float((va + vb) ** 2 / denominator) if denominator > 0 else float(a.size + b.size - 2)
    return _t_result(float(b.mean() - a.mean()), float(va + vb), df)


def paired_t_test(baseline: npt.ArrayLike, candidate: npt.ArrayLike) -> TTestResult:
    """The paired t-test of ``candidate - baseline`` (seed ``i`` against seed ``i``).

    Args:
        baseline: one value per seed.
        candidate: one value per seed, in the same seed order (at least 2 pairs).

    Returns:
        The :class:`TTestResult` (as ``scipy.stats.ttest_rel(candidate, baseline)``).

    Raises:
        InvalidArgumentError: the groups differ in length, fewer than 2 pairs, non-finite values.
    """
    a, b = _as_values(baseline, "baseline"), _as_values(candidate, "candidate")
    if a.size != b.size or a.size < 2:
        raise InvalidArgumentError("the paired t-test needs at least 2 seed pairs")
    d = b - a
    return _t_result(float(d.mean()), float(d.var(ddof=1) / d.size), float(d.size - 1))


def _checked_groups(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    paired: bool,
    n_resamples: int,
    rng: np.random.Generator | int | None,
) -> tuple[FloatArray, FloatArray, np.random.Generator]:
    """The two groups' values and a generator, after the checks every run-level test shares."""
    a, b = _as_values(baseline, "baseline"), _as_values(candidate, "candidate")
    if a.size == 0 or b.size == 0:
        raise InvalidArgumentError("each group needs at least one run")
    if paired and a.size != b.size:
        raise InvalidArgumentError("paired runs need the same number of runs in each group")
    if isinstance(n_resamples, bool) or n_resamples < 1:
        raise InvalidArgumentError("n_resamples must be an integer >= 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return a, b, gen


def run_permutation_test(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    paired: bool,
    n_resamples: int = 10_000,
    rng: np.random.Generator | int | None = None,
) -> PermutationResult:
    """Permutation test of ``mean(candidate) - mean(baseline)`` with runs as the units.

    Unpaired, the group labels of the pooled runs are shuffled; paired, the two runs of each
    seed are swapped or not (the sign of each seed's difference is flipped). When the distinct
    rearrangements number at most ``n_resamples`` they are all enumerated and the p-value is
    exact; otherwise ``n_resamples`` random ones are drawn (with the +1 that keeps a Monte Carlo
    test valid). Two-sided, ``2 * min`` of the one-sided p-values — as
    ``scipy.stats.permutation_test``.

    Args:
        baseline: one value per baseline run.
        candidate: one value per candidate run (same seed order when ``paired``).
        paired: swap within seed pairs instead of shuffling group labels.
        n_resamples: random rearrangements, and the budget for exact enumeration.
        rng: a numpy Generator or a seed.

    Returns:
        The :class:`PermutationResult`.

    Raises:
        InvalidArgumentError: an empty group, unequal lengths when paired, non-finite values.
    """
    a, b, gen = _checked_groups(baseline, candidate, paired, n_resamples, rng)
    observed = float(b.mean() - a.mean())
    if paired:
        d = b - a
        n = d.size
        exact = n < 63 and 2**n <= n_resamples
        if exact:
            signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        else:
            signs = gen.choice(np.array([-1.0, 1.0]), size=(n_resamples, n))
        null = np.asarray(signs @ d / n, dtype=np.float64)
    else:
        pooled = np.concatenate([a, b])
        n, k = pooled.size, a.size
        exact = math.comb(n, k) <= n_resamples
        if exact:
            chosen = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)
            in_a = np.zeros((chosen.shape[0], n), dtype=bool)
            np.put_along_axis(in_a, chosen, True, axis=1)
        else:
            in_a = gen.permuted(np.broadcast_to(np.arange(n) < k, (n_resamples, n)), axis=1)
        # both sums from the values themselves (not total - sum): equal values give an exact 0
        sum_a = np.where(in_a, pooled, 0.0).sum(axis=1)
        sum_b = np.where(in_a, 0.0, pooled).sum(axis=1)
        null = np.asarray(sum_b / b.size - sum_a / k, dtype=np.float64)
    probability = np.full(null.size, 1.0 / null.size) if exact else None
    p_value = _p_two_sided(null, observed, probability, null.size)
    return PermutationResult(observed, p_value, bool(exact), int(null.size))


def run_bootstrap(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    paired: bool,
    n_resamples: int = 10_000,
    rng: np.random.Generator | int | None = None,
) -> FloatArray:
    """Bootstrap distribution of ``mean(candidate) - mean(baseline)`` over runs.

    Unpaired, each group's runs are drawn with replacement on their own (as
    ``scipy.stats.bootstrap`` does with two independent samples); paired, seed pairs are drawn.

    Args:
        baseline: one value per baseline run.
        candidate: one value per candidate run (same seed order when ``paired``).
        paired: resample seed pairs rather than each group.
        n_resamples: number of resamples.
        rng: a numpy Generator or a seed.

    Returns:
        The ``(n_resamples,)`` resampled differences.

    Raises:
        InvalidArgumentError: an empty group, unequal lengths when paired, non-finite values.
    """
    a, b, gen = _checked_groups(baseline, candidate, paired, n_resamples, rng)
    if paired:
        d = b - a
        picked = gen.integers(0, d.size, size=(n_resamples, d.size))
        return np.asarray(d[picked].mean(axis=1), dtype=np.float64)
    pick_a = gen.integers(0, a.size, size=(n_resamples, a.size))
    pick_b = gen.integers(0, b.size, size=(n_resamples, b.size))
    return np.asarray(b[pick_b].mean(axis=1) - a[pick_a].mean(axis=1), dtype=np.float64)


def _small_sample_interval_scale(
    distribution: FloatArray, t: TTestResult, confidence: float
) -> FloatArray:
    """Widen a bootstrap over few runs to the width a t interval would have.

    Resampling n runs gives their mean a variance of (n - 1)/n times s**2/n, and the normal
    quantiles a percentile interval implicitly uses ignore that s is itself estimated from n
    runs: with 3 runs per group a 95% percentile interval covers about 80%. The deviations are
    scaled around their centre to the unbiased variance times ``(t_df / z)**2`` (``df`` from the
    t-test), which keeps the bootstrap's shape and gives about nominal coverage (tested by
    simulation in tests/stats/test_stats_runs.py).
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    spread = float(np.var(distribution, ddof=1)) if distribution.size > 1 else 0.0
    if spread <= 0.0 or t.standard_error == 0.0:
        return distribution
    q = 1 - (1 - confidence) / 2
    stretch = float(sps.t.ppf(q, t.df)) / float(sps.norm.ppf(q))
    target = (t.standard_error * stretch) ** 2
    centre = float(distribution.mean())
    return np.asarray(
        centre + (distribution - centre) * math.sqrt(target / spread), dtype=np.float64
    )


def pair_by_seed(
    baseline_seeds: Sequence[object | None], candidate_seeds: Sequence[object | None]
) -> list[tuple[int, int]] | None:
    """Pairs ``(baseline index, candidate index)`` of runs that ran the same seed.

    Runs pair up when every run of both groups has a seed, no seed repeats within a group, and
    at least two seeds are shared. Runs whose seed the other group did not run are left out.

    Returns:
        The pairs in the baseline's order, or ``None`` when the groups cannot be paired.
    """
    if any(s is None for s in (*baseline_seeds, *candidate_seeds)):
        return None
    if len(set(map(str, baseline_seeds))) != len(baseline_seeds) or len(
        set(map(str, candidate_seeds))
    ) != len(candidate_seeds):
        return None
    where = {str(s): j for j, s in enumerate(candidate_seeds)}
    pairs = [(i, where[str(s)]) for i, s in enumerate(baseline_seeds) if str(s) in where]
    return pairs if len(pairs) >= 2 else None


def _smallest_p(n_base: int, n_cand: int, paired: bool, n_resamples: int) -> float:
    """The smallest two-sided p-value the permutation test can return with these many runs."""
    distinct = 2 ** min(n_base, 62) if paired else math.comb(n_base + n_cand, n_base)
    # the observed arrangement is always counted: p >= 2 / (arrangements counted)
    return min(1.0, 2.0 / (distinct if distinct <= n_resamples else n_resamples + 1))


def _detectable_difference(t: TTestResult, alpha: float, power: float = 0.8) -> float:
    """The difference a two-sided level-alpha t-test would detect with ``power`` at this spread."""
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    return float((sps.t.ppf(1 - alpha / 2, t.df) + sps.t.ppf(power, t.df)) * t.standard_error)


def _runs_to_reach(alpha: float, paired: bool) -> int:
    """Runs per group (seed pairs when paired) that let the permutation test reach p < alpha."""
    n = 2
    while _smallest_p(n, n, paired, 1 << 62) >= alpha:
        n += 1
    return n


def _power_caveat(
    n_small: int, paired: bool, t: TTestResult, alpha: float, verdict: Verdict
) -> str:
    """Say plainly how little a run-level comparison of so few runs can detect."""
    units = f"{n_small} seed pairs" if paired else f"{n_small} runs in the smaller group"
    text = f"low power: only {units}"
    if t.standard_error > 0:
        text += (
            f"; a true difference of about {_detectable_difference(t, alpha):.3g} would be "
            "detected only 80% of the time"
        )
    if verdict is Verdict.NO_DETECTABLE_DIFFERENCE:
        text += ", so 'no detectable difference' is weak evidence of no difference"
    return text


def analyze_run_values(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    metric: str,
    higher_is_better: bool,
    baseline_seeds: Sequence[object | None] | None = None,
    candidate_seeds: Sequence[object | None] | None = None,
    alpha: float = 0.05,
    margin: float | None = None,
    min_effect: float | None = None,
    n_resamples: int = 10_000,
    rng: np.random.Generator | int | None = None,
) -> DifferenceAnalysis:
    """Compare two groups of runs by one value per run, with runs as the units.

    Paired by seed when both groups ran the same seeds (see :func:`pair_by_seed`), otherwise
    unpaired. The verdict rests on the permutation test over runs (on the t-test, Welch's or
    paired, when so few runs make the permutation test unable to reach ``alpha``; the other is
    then the cross-check); the interval is a bootstrap over runs widened for few runs. With
    few runs the notes state the power the comparison has.

    Args:
        baseline: each baseline run's value of the metric.
        candidate: each candidate run's value.
        metric: metric name (for the report), e.g. ``val_loss:min``.
        higher_is_better: direction of improvement.
        baseline_seeds: each baseline run's seed (``None`` where unknown), to pair by seed.
        candidate_seeds: each candidate run's seed.
        alpha: significance level; the interval has confidence ``1 - alpha``.
        margin: equivalence margin ε (metric units) for TOST, or ``None``.
        min_effect: smallest difference of interest (runs-needed estimate).
        n_resamples: bootstrap and permutation resamples.
        rng: a numpy Generator or a seed.

    Returns:
        The :class:`DifferenceAnalysis` with ``level == "run"`` (``n_examples`` is 0).

    Raises:
        InvalidArgumentError: fewer than two runs in a group, non-finite values, or alpha,
            margin or min_effect out of range.
    """
    a_all = _as_values(baseline, "baseline")
    b_all = _as_values(candidate, "candidate")
    if a_all.size < 2 or b_all.size < 2:
        raise InvalidArgumentError(
            f"metric {metric!r} is compared at run level (no shared per-example predictions), "
            f"which needs at least 2 runs per group; got {a_all.size} baseline and {b_all.size} "
            "candidate runs (run more seeds, or log predictions with run.log_predictions(...))"
        )
    if isinstance(alpha, bool) or not 0.0 < alpha < 1.0:
        raise InvalidArgumentError("alpha must lie strictly between 0 and 1")
    check_margin_and_min_effect(margin, min_effect)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    notes: list[str] = []
    pairs = None
    if baseline_seeds is not None and candidate_seeds is not None:
        if len(baseline_seeds) != a_all.size or len(candidate_seeds) != b_all.size:
            raise InvalidArgumentError("give one seed per run in each group")
        pairs = pair_by_seed(baseline_seeds, candidate_seeds)
    paired = pairs is not None
    if pairs is not None:
        a = a_all[[i for i, _ in pairs]]
        b = b_all[[j for _, j in pairs]]
        left_out = a_all.size + b_all.size - 2 * len(pairs)
        if left_out:
            notes.append(
                f"{left_out} run(s) whose seed the other group did not run were left out of the "
                "seed pairs"
            )
    else:
        a, b = a_all, b_all

    t = paired_t_test(a, b) if paired else welch_t_test(a, b)
    perm = run_permutation_test(a, b, paired=paired, n_resamples=n_resamples, rng=gen)
    boot = _small_sample_interval_scale(
        run_bootstrap(a, b, paired=paired, n_resamples=n_resamples, rng=gen), t, 1 - alpha
    )
    estimate = float(b.mean() - a.mean())
    low, high = percentile_interval(boot, 1 - alpha)
    tost_p = tost_from_bootstrap(boot, margin) if margin is not None else None
    sign = 1.0 if higher_is_better else -1.0
    poi, poi_low, poi_high = probability_of_improvement_ci(
        sign * b, sign * a, n_resamples=min(n_resamples, 5_000), confidence=1 - alpha, rng=gen
    )

    kind = "exact" if perm.exact else f"approximate, {perm.n_resamples} random rearrangements"
    t_name = "paired t-test" if paired else "Welch t-test"
    perm_name = (
        f"paired permutation over seeds ({kind})" if paired else f"permutation over runs ({kind})"
    )
    smallest = _smallest_p(a.size, b.size, paired, n_resamples)
    # the permutation test decides unless it cannot reach alpha at all with so few runs
    by_permutation = smallest < alpha
    p_value = perm.p_value if by_permutation else t.p_value
    if paired:
        reason = (
            f"run-level comparison: {len(a)} seeds run by both groups, each run's logged value "
            "is one observation; seed pairs are bootstrapped and their signs permuted"
        )
    else:
        reason = (
            f"run-level comparison: {a.size} baseline and {b.size} candidate runs, each run's "
            "logged value is one observation; runs are bootstrapped and their group labels "
            "permuted"
            + ("" if baseline_seeds is None else " (the groups share no seeds to pair by)")
        )
    notes.append(
        "run-level: no per-example predictions shared by the runs, so test-set noise and "
        "seed noise are not separated; log predictions for paired per-example tests"
    )
    if not by_permutation:
        units = f"{len(a)} seed pairs" if paired else f"{a.size} and {b.size} runs"
        notes.append(
            f"with {units} the permutation test cannot reach p < {alpha:g} (smallest possible "
            f"p = {smallest:.3g}), so the verdict rests on the {t_name}, which assumes roughly "
            f"normal {'differences' if paired else 'values'}; {_runs_to_reach(alpha, paired)}+ "
            "runs per group allow the distribution-free test"
        )
    elif (t.p_value < alpha) != (perm.p_value < alpha):
        notes.append(
            f"the {t_name} (p = {t.p_value:.3g}) and the permutation test (p = "
            f"{perm.p_value:.3g}) disagree at alpha {alpha:g}; the verdict follows the "
            "permutation test, which does not assume normality"
        )
    verdict = decide_verdict(
        estimate, p_value, higher_is_better=higher_is_better, alpha=alpha, tost_p_value=tost_p
    )
    n_small = min(a.size, b.size)
    if n_small < 2 * MIN_SEEDS:
        notes.append(_power_caveat(n_small, paired, t, alpha, verdict))
    needed = None
    if min_effect is not None:
        spread = (
            float(np.var(b - a, ddof=1)) / 2
            if paired
            else float((a.var(ddof=1) + b.var(ddof=1)) / 2)
        )
        needed = seeds_needed(spread, 0.0, min_effect, alpha=alpha)
        if needed is not None and needed > n_small:
            notes.append(
                f"about {needed} runs per group would detect {min_effect:g} with 80% power"
            )
    return DifferenceAnalysis(
        metric=metric,
        higher_is_better=higher_is_better,
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        confidence=1 - alpha,
        baseline_mean=float(a.mean()),
        candidate_mean=float(b.mean()),
        p_value=p_value,
        p_value_adjusted=p_value,
        correction="none",
        test="run-level " + (perm_name if by_permutation else t_name),
        test_reason=reason,
        alpha=alpha,
        margin=margin,
        tost_p_value=tost_p,
        tost_p_value_adjusted=tost_p,
        verdict=verdict,
        n_examples=0,
        n_baseline_runs=int(a.size),
        n_candidate_runs=int(b.size),
        n_resamples=int(boot.size),
        probability_of_improvement=poi,
        poi_ci=(poi_low, poi_high),
        seeds_needed=needed,
        min_effect=min_effect,
        notes=tuple(notes),
        level="run",
        paired_by_seed=paired,
        cross_checks=(
            (CrossCheck(t_name, t.p_value),)
            if by_permutation
            else (CrossCheck(perm_name, perm.p_value),)
        ),
        histogram=histogram_of(boot),
    )
