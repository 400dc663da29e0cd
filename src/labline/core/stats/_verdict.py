"""From test results to a verdict a reader can act on, and the whole analysis of one pair."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..._exceptions import InvalidArgumentError
from ._bootstrap import bootstrap_difference, bootstrap_p_value, percentile_interval
from ._classical import holm_bonferroni, mcnemar_from_encoded, seeds_needed, tost_from_bootstrap
from ._data import EncodedGroups
from ._delong import delong_from_encoded
from ._metrics import FloatArray
from ._permutation import paired_permutation_test

__all__ = [
    "CrossCheck",
    "DifferenceAnalysis",
    "Verdict",
    "analyze_difference",
    "apply_holm",
    "decide_verdict",
]

#: Fewer seeds than this per group and the seed-to-seed variance is poorly estimated.
MIN_SEEDS = 5

#: A P(improvement) interval at least this wide (on [0, 1]) says the seeds are too few.
POI_TOO_WIDE = 0.5


class Verdict(enum.StrEnum):
    """What the evidence says about the candidate compared with the baseline."""

    BETTER = "better"
    WORSE = "worse"
    NO_DETECTABLE_DIFFERENCE = "no detectable difference"
    EQUIVALENT = "equivalent within ±ε"


def check_margin_and_min_effect(margin: float | None, min_effect: float | None) -> None:
    """Raise InvalidArgumentError unless each given value is a positive finite number.

    NaN slips through ``<= 0`` checks, and a NaN or infinite margin would make TOST declare
    ``equivalent within ±nan`` / ``±inf``.
    """
    for name, value in (("margin", margin), ("min_effect", min_effect)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise InvalidArgumentError(f"{name} must be a number (metric units)")
        if not (math.isfinite(value) and value > 0):
            raise InvalidArgumentError(f"{name} must be a positive finite number (metric units)")


def decide_verdict(
    estimate: float,
    p_value: float,
    *,
    higher_is_better: bool,
    alpha: float,
    tost_p_value: float | None = None,
) -> Verdict:
    """Decide the verdict.

    A difference significant at ``alpha`` gives ``better`` or ``worse`` by the direction of the
    estimate (in the metric's sense of better). Otherwise, when an equivalence margin was given
    and both one-sided tests reject at ``alpha`` (TOST), ``equivalent within ±ε``; otherwise
    ``no detectable difference`` — which is not evidence of no difference.
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError("alpha must lie strictly between 0 and 1")
    if np.isfinite(p_value) and p_value < alpha and estimate != 0:
        improved = estimate > 0 if higher_is_better else estimate < 0
        return Verdict.BETTER if improved else Verdict.WORSE
    if tost_p_value is not None and tost_p_value < alpha:
        return Verdict.EQUIVALENT
    return Verdict.NO_DETECTABLE_DIFFERENCE


@dataclass(frozen=True)
class Histogram:
    """A compact picture of a resampled distribution (e.g. the bootstrap differences).

    Attributes:
        edges: bin edges, one more than ``counts``.
        counts: resamples in each bin (non-finite resamples are left out).
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]


HISTOGRAM_BINS = 40


def histogram_of(draws: FloatArray, bins: int = HISTOGRAM_BINS) -> Histogram | None:
    """The histogram of the finite ``draws`` (one bin when they barely differ); ``None`` when
    there are none."""
    x = np.asarray(draws, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    # draws a few ulps apart would make numpy refuse bins narrower than the float spacing
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):
        return Histogram((lo, hi), (int(x.size),))
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))


@dataclass(frozen=True)
class CrossCheck:
    """A second test reported beside the one behind the verdict.

    Attributes:
        test: its name, e.g. ``Welch t-test``.
        p_value: its two-sided p-value.
    """

    test: str
    p_value: float


@dataclass(frozen=True)
class DifferenceAnalysis:
    """Everything known about ``candidate - baseline`` on one metric.

    Attributes:
        metric: metric name.
        higher_is_better: direction of improvement of the metric.
        estimate: mean candidate metric minus mean baseline metric (metric units).
        ci_low, ci_high: bootstrap percentile interval of the difference.
        confidence: level of that interval (``1 - alpha``).
        baseline_mean, candidate_mean: the metric averaged over each group's runs.
        p_value: p-value of the test named in ``test`` (before any multiplicity correction).
        p_value_adjusted: after the correction named in ``correction`` (equal when none).
        correction: ``none`` or ``holm`` (with the number of comparisons).
        test: the test behind ``p_value``; ``test_reason`` says why it was chosen.
        alpha: significance level.
        margin: equivalence margin ε, or ``None``; ``tost_p_value`` its TOST p-value.
        verdict: see :class:`Verdict`.
        n_examples: test-set size; ``n_baseline_runs`` / ``n_candidate_runs`` seeds per group.
        n_resamples: bootstrap resamples behind the interval.
        probability_of_improvement: P(improvement), the chance that a candidate run with a new
            seed beats a baseline run with a new seed on a test set drawn like this one (ties
            one half), as the two-level bootstrap mean; ``poi_ci`` its percentile interval.
            ``None`` with one run per group. Without predictions (runs compared by their
            logged values) it is the share of (candidate, baseline) run pairs the candidate
            wins, as in rliable.
        seeds_needed: seeds per group to detect ``min_effect`` with 80% power (``None`` when not
            estimated or when more examples, not seeds, are needed — see ``notes``).
        min_effect: smallest effect of interest, if given.
        notes: plain-language caveats.
        level: ``example`` (per-example predictions paired across runs) or ``run`` (each
            run's logged value is one observation, runs are the units).
        paired_by_seed: a run-level comparison paired the runs by their ``seed`` param.
        cross_checks: other tests of the same difference, reported beside ``test``.
        histogram: the bootstrap distribution of the difference, binned (``None`` when the
            interval came from a t distribution rather than resampling).
    """

    metric: str
    higher_is_better: bool
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    baseline_mean: float
    candidate_mean: float
    p_value: float
    p_value_adjusted: float
    correction: str
    test: str
    test_reason: str
    alpha: float
    margin: float | None
    tost_p_value: float | None
    tost_p_value_adjusted: float | None
    verdict: Verdict
    n_examples: int
    n_baseline_runs: int
    n_candidate_runs: int
    n_resamples: int
    probability_of_improvement: float | None
    poi_ci: tuple[float, float] | None
    seeds_needed: int | None
    min_effect: float | None
    notes: tuple[str, ...]
    level: str = "example"
    paired_by_seed: bool = False
    cross_checks: tuple[CrossCheck, ...] = ()
    histogram: Histogram | None = None

    @property
    def difference(self) -> float:
        """``candidate - baseline`` in metric units (whatever the metric's direction)."""
        return self.estimate

    @property
    def difference_ci(self) -> tuple[float, float]:
        """The interval of :attr:`difference`."""
        return (self.ci_low, self.ci_high)

    @property
    def improvement(self) -> float:
        """The difference in the metric's better direction: positive means the candidate is better.

        Equal to :attr:`difference` when higher is better, its negation when lower is better
        (log-loss, MAE, ...).
        """
        return self.estimate if self.higher_is_better else -self.estimate

    @property
    def improvement_ci(self) -> tuple[float, float]:
        """The interval of :attr:`improvement` (low end first)."""
        if self.higher_is_better:
            return (self.ci_low, self.ci_high)
        return (-self.ci_high, -self.ci_low)

    @property
    def verdict_text(self) -> str:
        """The verdict with the margin written out (``equivalent within ±0.01``)."""
        if self.verdict is Verdict.EQUIVALENT and self.margin is not None:
            return f"equivalent within ±{self.margin:g}"
        return str(self.verdict)


def analyze_difference(
    data: EncodedGroups,
    *,
    alpha: float = 0.05,
    margin: float | None = None,
    min_effect: float | None = None,
    n_resamples: int = 10_000,
    n_permutations: int = 10_000,
    rng: np.random.Generator | int | None = None,
) -> DifferenceAnalysis:
    """Analyse ``candidate - baseline``: bootstrap interval, the fitting test, TOST, verdict.

    One run per group: paired per-example analysis — McNemar's exact test for accuracy, a paired
    permutation test otherwise. Several runs in a group: two-level bootstrap (seeds, then
    examples), its p-value by inverting the interval, and the probability of improvement.

    Args:
        data: encoded baseline and candidate runs.
        alpha: significance level; the interval has confidence ``1 - alpha``.
        margin: equivalence margin ε (metric units) for TOST, or ``None``.
        min_effect: smallest difference of interest (metric units), used for the seeds estimate.
        n_resamples: bootstrap resamples.
        n_permutations: permutation resamples (and exact-enumeration budget).
        rng: a numpy Generator or a seed.

    Returns:
        The :class:`DifferenceAnalysis`.

    Raises:
        InvalidArgumentError: alpha, margin or min_effect out of range.
    """
    if not 0.0 < alpha < 1.0:
        raise InvalidArgumentError("alpha must lie strictly between 0 and 1")
    check_margin_and_min_effect(margin, min_effect)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    metric = data.metric
    boot = bootstrap_difference(data, n_resamples=n_resamples, confidence=1 - alpha, rng=gen)
    n_base, n_cand = len(data.baseline_columns), len(data.candidate_columns)
    notes: list[str] = []
    poi: float | None = None
    poi_ci: tuple[float, float] | None = None
    needed: int | None = None

    if not boot.two_level:
        if metric.name == "accuracy":
            mc = mcnemar_from_encoded(data)
            p_value = mc.p_value
            test = "McNemar exact"
            reason = (
                f"one run per group, paired accuracy: exact binomial test on the "
                f"{mc.baseline_only + mc.candidate_only} discordant examples"
            )
        elif metric.name == "auc" and _delong_applies(data):
            delong = delong_from_encoded(data)
            p_value = delong.p_value
            test = "DeLong (paired AUC)"
            reason = (
                "one run per group, paired AUC: DeLong's test on the structural components "
                "(Sun & Xu's fast algorithm); it reads each model's scores through their ranks "
                "only, so calibration does not enter it"
            )
        else:
            perm = paired_permutation_test(data, n_resamples=n_permutations, rng=gen)
            p_value = perm.p_value
            kind = "exact" if perm.exact else f"approximate, {perm.n_resamples} random swaps"
            test = f"paired permutation ({kind})"
            reason = (
                f"one run per group, paired predictions: {metric.name} is recomputed on each swap"
            )
        notes.append(
            "one run per group: the interval covers test-set sampling only, not seed-to-seed "
            "variance; log several seeds per configuration to include it"
        )
    else:
        p_value = bootstrap_p_value(boot.distribution)
        test = "two-level bootstrap (seeds, then examples)"
        reason = (
            f"{n_base} baseline and {n_cand} candidate runs: seeds and examples are both "
            "resampled so seed-to-seed variance is included"
        )
        if boot.poi_distribution is not None:
            poi, poi_ci = _probability_of_improvement(boot.poi_distribution, 1 - alpha)
            notes.extend(_poi_notes(poi, poi_ci, n_base, n_cand))
        if min(n_base, n_cand) < MIN_SEEDS:
            notes.append(
                f"only {min(n_base, n_cand)} seeds in the smaller group: seed variance is poorly "
                f"estimated and the interval may be too narrow; {MIN_SEEDS}+ seeds are advisable"
            )
        if min_effect is not None and np.isfinite(boot.seed_variance):
            seed_var, example_var = boot.seed_variance, boot.example_variance
            needed = seeds_needed(seed_var, example_var, min_effect, alpha=alpha)
            if needed is None:
                notes.append(
                    f"the test set alone is too small to detect {min_effect:g} reliably: "
                    "more examples are needed, not more seeds"
                )
            elif needed > min(n_base, n_cand):
                notes.append(
                    f"about {needed} seeds per group would detect {min_effect:g} with 80% power"
                )
    if not np.isfinite(boot.distribution).all():
        notes.append(
            f"{metric.name} was undefined on some resamples (e.g. one class only); they were ignored"
        )

    tost_p = tost_from_bootstrap(boot.distribution, margin) if margin is not None else None
    verdict = decide_verdict(
        boot.estimate,
        p_value,
        higher_is_better=metric.higher_is_better,
        alpha=alpha,
        tost_p_value=tost_p,
    )
    if margin is not None and tost_p is not None and tost_p < alpha and p_value < alpha:
        notes.append(
            f"the difference is statistically detectable but lies within ±{margin:g}: "
            "practically equivalent"
        )
    return DifferenceAnalysis(
        metric=metric.name,
        higher_is_better=metric.higher_is_better,
        estimate=boot.estimate,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        confidence=1 - alpha,
        baseline_mean=float(boot.baseline_values.mean()),
        candidate_mean=float(boot.candidate_values.mean()),
        p_value=p_value,
        p_value_adjusted=p_value,
        correction="none",
        test=test,
        test_reason=reason,
        alpha=alpha,
        margin=margin,
        tost_p_value=tost_p,
        tost_p_value_adjusted=tost_p,
        verdict=verdict,
        n_examples=data.n_examples,
        n_baseline_runs=n_base,
        n_candidate_runs=n_cand,
        n_resamples=boot.n_resamples,
        probability_of_improvement=poi,
        poi_ci=poi_ci,
        seeds_needed=needed,
        min_effect=min_effect,
        notes=tuple(notes),
        histogram=histogram_of(boot.distribution),
    )


def _probability_of_improvement(
    distribution: FloatArray, confidence: float
) -> tuple[float, tuple[float, float]]:
    """Point estimate and interval of P(improvement) from its two-level bootstrap distribution.

    The point estimate is the bootstrap mean, not the share of wins on the one test set at
    hand: with few seeds that share jumps to 0 or 1 (three candidate runs all a hair above
    three baseline runs give 1.00) while the resampled values spread over [0, 1]. The mean
    always lies within the interval and estimates what the interval is about.
    """
    finite = distribution[np.isfinite(distribution)]
    if finite.size == 0:
        return float("nan"), (float("nan"), float("nan"))
    return float(finite.mean()), percentile_interval(finite, confidence)


def _poi_notes(poi: float, interval: tuple[float, float], n_base: int, n_cand: int) -> list[str]:
    """Say what P(improvement) estimates and, when its interval is that wide, that seeds are few."""
    notes = [
        "P(improve) is the chance that a candidate run with a new seed beats a baseline run with "
        "a new seed on a test set drawn like this one (ties count one half); estimated by the "
        "two-level bootstrap"
    ]
    low, high = interval
    if np.isfinite(low) and high - low >= POI_TOO_WIDE:
        notes.append(
            f"P(improve) {poi:.2f} has interval [{low:.2f}, {high:.2f}]: {n_base} baseline and "
            f"{n_cand} candidate seeds are too few to estimate it"
        )
    return notes


def poi_is_too_wide(interval: tuple[float, float] | None) -> bool:
    """Whether a P(improvement) interval is too wide for the estimate to mean much."""
    return interval is not None and bool(interval[1] - interval[0] >= POI_TOO_WIDE)


def _delong_applies(data: EncodedGroups) -> bool:
    """DeLong's variance needs two examples in and out of every class; else permute ranks."""
    y = data.rows[:, 0].astype(np.int64)
    per_class = np.bincount(y, weights=data.counts)
    n_scores = data.rows[:, data.baseline_columns[0]].shape[1] - 1
    classes = [1] if n_scores == 1 else range(n_scores)
    return all(
        2 <= (per_class[k] if k < per_class.size else 0) <= data.n_examples - 2 for k in classes
    )


def apply_holm(analyses: Sequence[DifferenceAnalysis]) -> list[DifferenceAnalysis]:
    """Holm–Bonferroni-correct several candidates' comparisons against one baseline.

    Adjusts the difference p-values and, when margins were given, the TOST p-values, and
    re-decides each verdict on the adjusted values. A single comparison is returned unchanged.
    """
    if len(analyses) <= 1:
        return list(analyses)
    adjusted = holm_bonferroni([a.p_value for a in analyses])
    tost_raw = [a.tost_p_value for a in analyses]
    tost_adjusted: list[float | None]
    if all(t is not None for t in tost_raw):
        tost_adjusted = [
            float(t) for t in holm_bonferroni([float(t) for t in tost_raw if t is not None])
        ]
    else:
        tost_adjusted = list(tost_raw)
    label = f"holm ({len(analyses)} comparisons)"
    out = []
    for a, p, t in zip(analyses, adjusted, tost_adjusted, strict=True):
        verdict = decide_verdict(
            a.estimate, float(p), higher_is_better=a.higher_is_better, alpha=a.alpha, tost_p_value=t
        )
        out.append(
            replace(
                a,
                p_value_adjusted=float(p),
                tost_p_value_adjusted=t,
                correction=label,
                verdict=verdict,
            )
        )
    return out
