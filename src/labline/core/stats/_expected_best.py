"""Expected best validation score against the tuning budget (Dodge et al. 2019), with Tang et
al. (2020)'s unbiased estimator, bootstrap bands, crossings and a budget-fair verdict.

Scores are oriented so that higher is better (a minimised metric is negated on the way in and
back on the way out). Trials are independent draws of a sweep's search (random search is
exactly that; an adaptive sampler's trials are treated as if they were).

The estimators, for ``N`` scores sorted ascending ``v_1 <= ... <= v_N`` and a budget of ``n``
trials:

* Dodge et al.: the maximum of ``n`` draws *with* replacement from the ``N`` scores,
  ``sum_i v_i ((i/N)^n - ((i-1)/N)^n)``. It is biased low for ``n`` near ``N``.
* Tang et al.: the mean of the maximum over every ``n``-subset of the ``N`` scores, drawn
  *without* replacement, ``sum_{i>=n} v_i C(i-1, n-1) / C(N, n)``: a U-statistic, so unbiased
  for the expected best of ``n`` fresh trials, defined for ``n <= N``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._verdict import Verdict

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "BudgetComparison",
    "ExpectedBestCurve",
    "budget_crossings",
    "compare_expected_best",
    "expected_best_band",
    "expected_best_dodge",
    "expected_best_tang",
    "expected_best_weights",
]


def _scores(values: Sequence[float] | FloatArray, what: str = "scores") -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise InvalidArgumentError(f"{what}: a sweep needs at least one finished trial")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{what}: scores must be finite numbers")
    return arr


def _budgets(
    budgets: Sequence[int] | npt.NDArray[np.int64] | None, n: int
) -> npt.NDArray[np.int64]:
    if budgets is None:
        return np.arange(1, n + 1, dtype=np.int64)
    b = np.asarray(budgets, dtype=np.int64).ravel()
    if b.size == 0 or b.min() < 1 or b.max() > n:
        raise InvalidArgumentError(
            f"budgets must be between 1 and the number of trials ({n}); got {b.tolist()}"
        )
    return b


def expected_best_weights(
    n_trials: int, budgets: Sequence[int] | npt.NDArray[np.int64]
) -> FloatArray:
    """Tang et al.'s weights: row ``k`` holds ``C(i-1, n_k-1) / C(N, n_k)`` for the ``i``-th
    smallest of ``N`` scores (zero below ``n_k``). Each row sums to 1.

    Args:
        n_trials: ``N``, the number of scores.
        budgets: the budgets ``n_k`` (1..N).

    Returns:
        A ``(len(budgets), N)`` matrix ``W``: ``W @ sorted_scores`` is the curve.
    """
    from scipy.special import gammaln  # lazy: keeps `import labline` fast

    b = _budgets(budgets, n_trials).astype(np.float64)[:, None]
    i = np.arange(1, n_trials + 1, dtype=np.float64)[None, :]
    with np.errstate(invalid="ignore"):
        log_w = (
            gammaln(i)
            - gammaln(b)
            - gammaln(np.maximum(i - b + 1, 1))
            - (gammaln(n_trials + 1) - gammaln(b + 1) - gammaln(n_trials - b + 1))
        )
    w = np.where(i >= b, np.exp(log_w), 0.0)
    # renormalise away the last ulps of rounding
    return np.asarray(w / w.sum(axis=1, keepdims=True), dtype=np.float64)


def expected_best_tang(
    scores: Sequence[float] | FloatArray,
    budgets: Sequence[int] | None = None,
    *,
    higher_is_better: bool = True,
) -> FloatArray:
    """Tang et al.'s unbiased expected best score of ``n`` trials, for each budget ``n``.

    Args:
        scores: one validation score per finished trial.
        budgets: the budgets (1..N); every one from 1 to N when omitted.
        higher_is_better: ``False`` for a loss (the expected *lowest* score is returned).

    Returns:
        The curve, one value per budget.

    Raises:
        InvalidArgumentError: no scores, non-finite scores, or a budget outside 1..N.
    """
    s = _scores(scores)
    sign = 1.0 if higher_is_better else -1.0
    b = _budgets(budgets, s.size)
    return sign * (expected_best_weights(s.size, b) @ np.sort(sign * s))


def expected_best_dodge(
    scores: Sequence[float] | FloatArray,
    budgets: Sequence[int] | None = None,
    *,
    higher_is_better: bool = True,
) -> FloatArray:
    """Dodge et al.'s estimator (draws with replacement): biased low near ``N``; kept to show
    that bias beside the unbiased one. Budgets may exceed ``N`` here.

    Raises:
        InvalidArgumentError: no scores or non-finite scores.
    """
    s = _scores(scores)
    sign = 1.0 if higher_is_better else -1.0
    v = np.sort(sign * s)
    n_all = s.size
    b = (
        np.arange(1, n_all + 1, dtype=np.float64)
        if budgets is None
        else np.asarray(budgets, dtype=np.float64)
    )
    i = np.arange(1, n_all + 1, dtype=np.float64)
    cdf = (i / n_all)[None, :] ** b[:, None] - ((i - 1) / n_all)[None, :] ** b[:, None]
    return np.asarray(sign * (cdf @ v), dtype=np.float64)


def _smoothing_bandwidths(s: FloatArray) -> FloatArray:
    """One kernel bandwidth per score: Silverman's rule, adapted to the local density
    (Abramson: ``h_i = h (f(x_i) / g)^(-1/2)``, ``g`` the geometric mean of the pilot density).

    Smoothing lets a resample reach past the best score seen, which a plain bootstrap's
    maximum never does; the adaptation reaches further into a sparse upper tail than into a
    crowded one (a validation score bounded near its best).
    """
    sd = float(np.std(s, ddof=1)) if s.size > 1 else 0.0
    q75, q25 = np.percentile(s, [75, 25])
    spread = min(sd, float(q75 - q25) / 1.34) if q75 > q25 else sd
    h = 0.9 * spread * s.size ** (-0.2)
    if h <= 0:
        return np.zeros_like(s)
    pilot = np.exp(-0.5 * ((s[:, None] - s[None, :]) / h) ** 2).mean(axis=1) / h
    return np.asarray(h * (pilot / np.exp(np.mean(np.log(pilot)))) ** -0.5, dtype=np.float64)


def expected_best_band(
    scores: Sequence[float] | FloatArray,
    budgets: Sequence[int] | None = None,
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: int | np.random.Generator | None = 0,
) -> tuple[FloatArray, FloatArray]:
    """A smoothed-bootstrap band around Tang et al.'s curve.

    Each resample draws ``N`` scores with replacement, adds Gaussian noise of an adaptive
    kernel bandwidth per score (Silverman's rule scaled by Abramson's local-density factor),
    and takes Tang's curve of it; the band is the percentile interval per budget, widened to
    contain the estimate, and bounded on its worse side by the worst score observed (an
    expected best is never below it; the better side may pass the best score observed, as the
    true curve does). Validated by seeded simulation against known curves
    (``tests/stats/test_expected_best.py``): at least 93% coverage at every budget for normal,
    beta and bounded skewed scores; a heavy, unbounded upper tail (exponential) covers less.

    Args:
        scores, budgets, higher_is_better: as for :func:`expected_best_tang`.
        confidence: the band's coverage per budget.
        n_resamples: bootstrap resamples.
        rng: a seed or generator (a fixed default: bands are reproducible).

    Returns:
        ``(low, high)`` per budget.

    Raises:
        InvalidArgumentError: bad scores, budgets or confidence.
    """
    if not 0 < confidence < 1:
        raise InvalidArgumentError("confidence must be between 0 and 1")
    s = _scores(scores)
    sign = 1.0 if higher_is_better else -1.0
    v = sign * s
    b = _budgets(budgets, s.size)
    gen = np.random.default_rng(rng)
    n = v.size
    h = _smoothing_bandwidths(v)
    idx = gen.integers(0, n, size=(n_resamples, n))
    draws = v[idx] + h[idx] * gen.standard_normal(idx.shape)
    curves = np.sort(draws, axis=1) @ expected_best_weights(n, b).T
    alpha = 1 - confidence
    lo, hi = np.quantile(curves, [alpha / 2, 1 - alpha / 2], axis=0)
    est = expected_best_weights(n, b) @ np.sort(v)
    lo, hi = np.minimum(lo, est), np.maximum(hi, est)
    # The worse side stops at the worst score seen: Tang's estimate, a weighted mean of the
    # scores, never goes below it, and with few trials the smoothing's noise would take the
    # band there. The better side is not stopped at the best score seen: the true expected
    # best of N trials lies beyond the best of the N observed about half the time (clipped
    # there, the bands covered the true curve at the last budgets in ~50% of simulated sweeps).
    lo = np.maximum(lo, v.min())
    if sign < 0:
        lo, hi = -hi, -lo
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


@dataclass(frozen=True)
class ExpectedBestCurve:
    """One sweep's expected best score against its budget.

    Attributes:
        budgets: trials 1..N.
        estimate: Tang et al.'s unbiased estimate per budget.
        low, high: the bootstrap band.
        seconds: the mean compute time of a trial times each budget (``None`` without times).
    """

    budgets: tuple[int, ...]
    estimate: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    seconds: tuple[float, ...] | None = None

    def at(self, budget: float, *, in_seconds: bool = False) -> float:
        """The estimate at a budget in trials (or seconds), interpolated linearly between whole
        trials; NaN outside the curve."""
        x = np.asarray(self.seconds if in_seconds else self.budgets, dtype=np.float64)
        if x.size == 0 or budget < x[0] - 1e-12 or budget > x[-1] + 1e-12:
            return float("nan")
        return float(np.interp(budget, x, np.asarray(self.estimate)))


def budget_crossings(
    budgets: Sequence[float] | FloatArray, difference: Sequence[float] | FloatArray
) -> list[float]:
    """Budgets where two curves cross: where ``difference`` (candidate − baseline) changes
    sign, interpolated linearly between the budgets on either side (a budget where it is
    exactly zero between two opposite signs is itself a crossing)."""
    x = np.asarray(budgets, dtype=np.float64)
    d = np.asarray(difference, dtype=np.float64)
    out: list[float] = []
    last_sign, last_i = 0.0, -1
    for i, v in enumerate(d):
        sign = float(np.sign(v)) if abs(v) > 1e-12 else 0.0
        if sign == 0.0:
            continue
        if last_sign != 0.0 and sign != last_sign:
            x0, x1, d0, d1 = x[last_i], x[i], d[last_i], d[i]
            out.append(float(x0 + (x1 - x0) * (-d0) / (d1 - d0)))
        last_sign, last_i = sign, i
    return out


@dataclass(frozen=True)
class BudgetComparison:
    """Two sweeps' expected-best curves compared at equal budget.

    Attributes:
        baseline, candidate: each sweep's curve.
        higher_is_better: the metric's direction.
        crossings_trials: budgets in trials where the curves cross.
        crossings_seconds: budgets in seconds where they cross (``None`` without times).
        budget: the budget the verdict is given at; ``unit`` says in what.
        unit: ``"trials"`` or ``"seconds"``.
        difference: candidate − baseline at that budget (in the metric's units).
        improvement: the difference in the better direction (positive: candidate better).
        p_value: two-sided permutation p-value of the improvement (trials' sweep labels
            exchanged; exact under equal curves from the same trial distribution).
        alpha: significance level.
        verdict: better / worse / no detectable difference.
    """

    baseline: ExpectedBestCurve
    candidate: ExpectedBestCurve
    higher_is_better: bool
    crossings_trials: tuple[float, ...]
    crossings_seconds: tuple[float, ...] | None
    budget: float
    unit: str
    difference: float
    improvement: float
    p_value: float
    alpha: float
    verdict: Verdict


def _curve(
    scores: FloatArray,
    seconds: FloatArray | None,
    higher_is_better: bool,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> ExpectedBestCurve:
    est = expected_best_tang(scores, higher_is_better=higher_is_better)
    lo, hi = expected_best_band(
        scores,
        higher_is_better=higher_is_better,
        confidence=confidence,
        n_resamples=n_resamples,
        rng=rng,
    )
    budgets = tuple(range(1, scores.size + 1))
    secs = None
    if seconds is not None:
        per_trial = float(np.mean(seconds))
        secs = tuple(per_trial * k for k in budgets)
    return ExpectedBestCurve(
        budgets=budgets,
        estimate=tuple(float(x) for x in est),
        low=tuple(float(x) for x in lo),
        high=tuple(float(x) for x in hi),
        seconds=secs,
    )


def _weights_at(n: int, budget_trials: float) -> FloatArray:
    """Tang's weights at a fractional budget: linear between the whole budgets around it."""
    lo = max(1, min(n, math.floor(budget_trials)))
    hi = max(1, min(n, math.ceil(budget_trials)))
    w = expected_best_weights(n, [lo, hi])
    frac = budget_trials - lo if hi != lo else 0.0
    return np.asarray(w[0] + (w[1] - w[0]) * frac, dtype=np.float64)


def _value_at(scores: FloatArray, budget_trials: float, sign: float) -> float:
    """Tang's estimate (oriented by ``sign``) at a fractional budget, interpolated."""
    return float(_weights_at(scores.size, budget_trials) @ np.sort(sign * scores))


def compare_expected_best(
    baseline: Sequence[float] | FloatArray,
    candidate: Sequence[float] | FloatArray,
    *,
    higher_is_better: bool = True,
    baseline_seconds: Sequence[float] | FloatArray | None = None,
    candidate_seconds: Sequence[float] | FloatArray | None = None,
    budget: float | None = None,
    unit: str = "trials",
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    n_permutations: int = 2000,
    rng: int | np.random.Generator | None = 0,
) -> BudgetComparison:
    """Compare two sweeps at equal budget, in trials and (with trial times) in compute time.

    Args:
        baseline, candidate: each sweep's finished trials' scores.
        higher_is_better: the metric's direction.
        baseline_seconds, candidate_seconds: each trial's compute time (both or neither).
        budget: where to give the verdict: trials (1..min N) or seconds, per ``unit``; the
            largest budget both sweeps reached when omitted.
        unit: ``"trials"`` or ``"seconds"``.
        alpha: significance level of the verdict.
        confidence: the bands' coverage.
        n_resamples, n_permutations: bootstrap resamples and label permutations.
        rng: seed or generator.

    Returns:
        The curves, crossings and verdict.

    Raises:
        InvalidArgumentError: bad scores, times, unit or a budget outside both curves.
    """
    a, c = _scores(baseline, "baseline"), _scores(candidate, "candidate")
    if unit not in ("trials", "seconds"):
        raise InvalidArgumentError("unit must be 'trials' or 'seconds'")
    if not 0 < alpha < 1:
        raise InvalidArgumentError("alpha must be between 0 and 1")
    times = baseline_seconds is not None and candidate_seconds is not None
    if unit == "seconds" and not times:
        raise InvalidArgumentError("a budget in seconds needs both sweeps' trial times")
    sa = _scores(baseline_seconds, "baseline times") if times else None  # type: ignore[arg-type]
    sc = _scores(candidate_seconds, "candidate times") if times else None  # type: ignore[arg-type]
    if sa is not None and sc is not None and (sa.size != a.size or sc.size != c.size):
        raise InvalidArgumentError("one trial time per score is needed")
    if sa is not None and sc is not None and (sa.min() <= 0 or sc.min() <= 0):
        raise InvalidArgumentError("trial times must be positive")
    gen = np.random.default_rng(rng)
    sign = 1.0 if higher_is_better else -1.0
    base_curve = _curve(a, sa, higher_is_better, confidence, n_resamples, gen)
    cand_curve = _curve(c, sc, higher_is_better, confidence, n_resamples, gen)
    common = min(a.size, c.size)
    grid = np.arange(1, common + 1)
    diff_trials = np.asarray(cand_curve.estimate[:common]) - np.asarray(
        base_curve.estimate[:common]
    )
    cross_t = tuple(budget_crossings(grid.astype(np.float64), sign * diff_trials))
    cross_s: tuple[float, ...] | None = None
    per_a = float(sa.mean()) if sa is not None else 1.0
    per_c = float(sc.mean()) if sc is not None else 1.0
    if times:
        t_lo = max(per_a, per_c)
        t_hi = min(per_a * a.size, per_c * c.size)
        if t_hi >= t_lo:
            tgrid = np.linspace(t_lo, t_hi, 200)
            d = np.array(
                [_value_at(c, t / per_c, sign) - _value_at(a, t / per_a, sign) for t in tgrid]
            )
            cross_s = tuple(budget_crossings(tgrid, d))
        else:
            cross_s = ()
    if budget is None:
        budget = float(common) if unit == "trials" else min(per_a * a.size, per_c * c.size)
    n_a = budget if unit == "trials" else budget / per_a
    n_c = budget if unit == "trials" else budget / per_c
    if not (1 <= n_a <= a.size and 1 <= n_c <= c.size):
        raise InvalidArgumentError(
            f"budget {budget:g} {unit} is outside what both sweeps reached "
            f"(baseline {a.size} trials, candidate {c.size} trials)"
        )
    improvement = _value_at(c, n_c, sign) - _value_at(a, n_a, sign)
    # permutation test: under equal curves from one trial distribution the sweep labels of
    # the trials are exchangeable (trial times travel with their trials)
    pooled = np.concatenate([a, c])
    pooled_t = np.concatenate([sa, sc]) if sa is not None and sc is not None else None
    if pooled_t is not None and unit == "seconds":
        extreme = 0
        for _ in range(n_permutations):
            perm = gen.permutation(pooled.size)
            ta, tc = pooled_t[perm[: a.size]].mean(), pooled_t[perm[a.size :]].mean()
            ka = min(max(budget / ta, 1.0), a.size)
            kc = min(max(budget / tc, 1.0), c.size)
            pa, pc = pooled[perm[: a.size]], pooled[perm[a.size :]]
            stat = _value_at(pc, kc, sign) - _value_at(pa, ka, sign)
            extreme += int(abs(stat) >= abs(improvement) - 1e-12)
    else:
        w_a, w_c = _weights_at(a.size, n_a), _weights_at(c.size, n_c)
        perms = np.argsort(gen.random((n_permutations, pooled.size)), axis=1)
        shuffled = sign * pooled[perms]
        stats = (
            np.sort(shuffled[:, a.size :], axis=1) @ w_c
            - np.sort(shuffled[:, : a.size], axis=1) @ w_a
        )
        extreme = int(np.sum(np.abs(stats) >= abs(improvement) - 1e-12))
    p = (1 + extreme) / (1 + n_permutations)
    if p < alpha:
        verdict = Verdict.BETTER if improvement > 0 else Verdict.WORSE
    else:
        verdict = Verdict.NO_DETECTABLE_DIFFERENCE
    return BudgetComparison(
        baseline=base_curve,
        candidate=cand_curve,
        higher_is_better=higher_is_better,
        crossings_trials=cross_t,
        crossings_seconds=cross_s,
        budget=float(budget),
        unit=unit,
        difference=sign * improvement,
        improvement=improvement,
        p_value=float(p),
        alpha=alpha,
        verdict=verdict,
    )
