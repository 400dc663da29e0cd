"""Comparison from per-seed metric values alone, when no per-example predictions were logged."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._classical import probability_of_improvement_ci, seeds_needed
from ._verdict import (
    MIN_SEEDS,
    DifferenceAnalysis,
    check_margin_and_min_effect,
    decide_verdict,
    poi_is_too_wide,
)

__all__ = ["analyze_seed_values"]


def analyze_seed_values(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    *,
    metric: str,
    higher_is_better: bool,
    alpha: float = 0.05,
    margin: float | None = None,
    min_effect: float | None = None,
    n_resamples: int = 10_000,
    rng: np.random.Generator | int | None = None,
) -> DifferenceAnalysis:
    """Compare two groups of runs by their final metric values (one value per seed).

    Without per-example predictions the test set's sampling noise cannot be separated from
    seed noise, so each run is one observation: Welch's t-test and interval on the mean
    difference, TOST against ``±margin`` with the same t distribution, and the probability of
    improvement with a bootstrap interval over seeds.

    Args:
        baseline: the metric of each baseline run.
        candidate: the metric of each candidate run.
        metric: metric name (for the report).
        higher_is_better: direction of improvement.
        alpha: significance level.
        margin: equivalence margin, or ``None``.
        min_effect: smallest difference of interest (seeds-needed estimate).
        n_resamples: bootstrap resamples for the probability-of-improvement interval.
        rng: a numpy Generator or a seed.

    Returns:
        The :class:`DifferenceAnalysis` (``n_examples`` is 0: no examples were seen).

    Raises:
        InvalidArgumentError: fewer than two runs in a group, or non-finite values.
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.size < 2 or b.size < 2:
        raise InvalidArgumentError(
            "without per-example predictions each group needs at least 2 runs (seeds) to estimate "
            "uncertainty; log predictions with run.log_predictions(...) or run more seeds"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidArgumentError("metric values must be finite")
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError("alpha must lie strictly between 0 and 1")
    check_margin_and_min_effect(margin, min_effect)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    estimate = float(b.mean() - a.mean())
    if se == 0:
        p_value = 1.0 if estimate == 0 else 0.0
        low = high = estimate
        tost_p = None if margin is None else (0.0 if abs(estimate) < margin else 1.0)
    else:
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
        p_value = float(2 * sps.t.sf(abs(estimate) / se, df))
        half = float(sps.t.ppf(1 - alpha / 2, df)) * se
        low, high = estimate - half, estimate + half
        tost_p = (
            None
            if margin is None
            else float(
                max(sps.t.sf((estimate + margin) / se, df), sps.t.cdf((estimate - margin) / se, df))
            )
        )
    sign = 1.0 if higher_is_better else -1.0
    poi, poi_low, poi_high = probability_of_improvement_ci(
        sign * b, sign * a, n_resamples=min(n_resamples, 5_000), confidence=1 - alpha, rng=rng
    )
    notes = [
        "no per-example predictions shared by the runs: each run's final metric is one "
        "observation (Welch's t); log predictions for paired, more powerful tests"
    ]
    if poi_is_too_wide((poi_low, poi_high)):
        notes.append(
            f"P(improve) {poi:.2f} has interval [{poi_low:.2f}, {poi_high:.2f}]: {a.size} "
            f"baseline and {b.size} candidate seeds are too few to estimate it"
        )
    if min(a.size, b.size) < MIN_SEEDS:
        notes.append(
            f"only {min(a.size, b.size)} seeds in the smaller group: {MIN_SEEDS}+ seeds are advisable"
        )
    needed = None
    if min_effect is not None:
        needed = seeds_needed(
            float((a.var(ddof=1) + b.var(ddof=1)) / 2), 0.0, min_effect, alpha=alpha
        )
        if needed is not None and needed > min(a.size, b.size):
            notes.append(
                f"about {needed} seeds per group would detect {min_effect:g} with 80% power"
            )
    verdict = decide_verdict(
        estimate, p_value, higher_is_better=higher_is_better, alpha=alpha, tost_p_value=tost_p
    )
    return DifferenceAnalysis(
        metric=metric,
        higher_is_better=higher_is_better,
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        confidence=1 - alpha,
        baseline_mean=float(a.mean()),
        candidate_mean=float(b.mean()),
        p_value=p_value,
        p_value_adjusted=p_value,
        correction="none",
        test="Welch t-test on per-seed metric values",
        test_reason=(
            f"{a.size} baseline and {b.size} candidate runs without shared per-example "
            "predictions: runs are the unit of analysis"
        ),
        alpha=alpha,
        margin=margin,
        tost_p_value=tost_p,
        tost_p_value_adjusted=tost_p,
        verdict=verdict,
        n_examples=0,
        n_baseline_runs=int(a.size),
        n_candidate_runs=int(b.size),
        n_resamples=0,
        probability_of_improvement=poi,
        poi_ci=(poi_low, poi_high),
        seeds_needed=needed,
        min_effect=min_effect,
        notes=tuple(notes),
    )
