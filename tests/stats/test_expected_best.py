"""Expected best score vs budget: Tang et al.'s estimator against brute-force enumeration of
subsets, its unbiasedness (and Dodge et al.'s low bias) by simulation, and the bands' coverage
and the verdict's false-positive rate by seeded simulation with a known truth."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import stats as sps

import labline
from labline.core import stats


def true_curve(dist: sps.rv_continuous, n_max: int) -> np.ndarray:
    """E[max of n] = integral over p of F^-1(p^(1/n)) (the max of n has CDF F^n)."""
    p = (np.arange(100_000) + 0.5) / 100_000
    return np.array([dist.ppf(p ** (1 / n)).mean() for n in range(1, n_max + 1)])


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("n_trials", [1, 2, 5, 9])
def test_tang_equals_the_mean_best_over_every_subset(n_trials: int, higher_is_better: bool) -> None:
    rng = np.random.default_rng(n_trials)
    scores = np.round(rng.normal(size=n_trials), 1)  # ties included
    best = max if higher_is_better else min
    brute = [np.mean([best(c) for c in combinations(scores, n)]) for n in range(1, n_trials + 1)]
    got = stats.expected_best_tang(scores, higher_is_better=higher_is_better)
    np.testing.assert_allclose(got, brute, rtol=0, atol=1e-12)
    assert got[0] == pytest.approx(scores.mean())
    assert got[-1] == best(scores)


def test_tang_is_unbiased_and_dodge_is_biased_low() -> None:
    dist = sps.beta(2, 8)
    n = 10
    truth = true_curve(dist, n)
    rng = np.random.default_rng(7)
    samples = dist.rvs((4000, n), random_state=rng)
    tang = np.array([stats.expected_best_tang(s) for s in samples]).mean(axis=0)
    dodge = np.array([stats.expected_best_dodge(s) for s in samples]).mean(axis=0)
    se = samples.max(axis=1).std() / np.sqrt(len(samples))
    assert np.all(np.abs(tang - truth) < 4 * se)
    assert truth[-1] - dodge[-1] > 10 * se  # with-replacement draws repeat the best less often


def test_bad_input_is_named() -> None:
    with pytest.raises(labline.InvalidArgumentError, match="at least one"):
        stats.expected_best_tang([])
    with pytest.raises(labline.InvalidArgumentError, match="finite"):
        stats.expected_best_tang([0.1, float("nan")])
    with pytest.raises(labline.InvalidArgumentError, match="budgets must be between 1 and"):
        stats.expected_best_tang([0.1, 0.2], budgets=[3])
    with pytest.raises(labline.InvalidArgumentError, match="outside what both sweeps reached"):
        stats.compare_expected_best([0.1, 0.2], [0.3, 0.4, 0.5], budget=3)
    with pytest.raises(labline.InvalidArgumentError, match="trial times"):
        stats.compare_expected_best([0.1, 0.2], [0.3], unit="seconds")


def test_crossings_are_named_between_budgets() -> None:
    assert stats.budget_crossings([1, 2, 3, 4], [-1.0, -0.5, 0.5, 1.0]) == [2.5]
    assert stats.budget_crossings([1, 2, 3], [1.0, 0.0, -1.0]) == [2.0]
    assert stats.budget_crossings([1, 2, 3], [1.0, 2.0, 3.0]) == []


def test_curves_that_cross_are_reported_and_the_verdict_depends_on_the_budget() -> None:
    # the baseline is steady; the candidate is usually worse but sometimes much better:
    # it loses at a budget of 1 trial and wins at 40
    rng = np.random.default_rng(3)
    base = rng.normal(0.90, 0.005, 40)
    cand = np.where(rng.random(40) < 0.25, rng.normal(0.95, 0.005, 40), rng.normal(0.80, 0.01, 40))
    small = stats.compare_expected_best(base, cand, budget=1, rng=1)
    large = stats.compare_expected_best(base, cand, budget=40, rng=1)
    assert small.verdict is labline.Verdict.WORSE and large.verdict is labline.Verdict.BETTER
    assert len(small.crossings_trials) == 1 and 1 < small.crossings_trials[0] < 10
    # with trial times the budget can be read in seconds: the candidate's trials are 4x faster
    timed = stats.compare_expected_best(
        base,
        cand,
        baseline_seconds=np.full(40, 4.0),
        candidate_seconds=np.full(40, 1.0),
        unit="seconds",
        budget=40.0,
        rng=1,
    )
    assert timed.candidate.at(40.0, in_seconds=True) == pytest.approx(
        stats.expected_best_tang(cand, [40])[0]
    )
    assert timed.baseline.at(40.0, in_seconds=True) == pytest.approx(
        stats.expected_best_tang(base, [10])[0]
    )
    assert timed.verdict is labline.Verdict.BETTER and timed.crossings_seconds is not None


def test_a_minimised_metric_is_oriented() -> None:
    loss_a = np.linspace(1.0, 2.0, 20)
    loss_b = loss_a - 0.5
    r = stats.compare_expected_best(loss_a, loss_b, higher_is_better=False, rng=0)
    assert r.improvement == pytest.approx(0.5) and r.difference == pytest.approx(-0.5)
    assert r.verdict is labline.Verdict.BETTER
    lo, hi = stats.expected_best_band(loss_a, higher_is_better=False)
    est = stats.expected_best_tang(loss_a, higher_is_better=False)
    assert np.all(lo <= est) and np.all(est <= hi)


@pytest.mark.parametrize("scores", [[0.2, 0.9], [0.8, 0.81, 0.95], [0.5, 0.6, 0.9, 0.91]])
def test_bands_stop_at_the_worst_score_seen(scores: list[float]) -> None:
    """With few trials the smoothing's noise reached below the worst score (for a loss: above
    it); the band's worse side now stops there, in both orientations."""
    lo, hi = stats.expected_best_band(scores)
    est = stats.expected_best_tang(scores)
    assert np.all(lo >= min(scores)) and np.all(lo <= est) and np.all(est <= hi)
    lo, hi = stats.expected_best_band(scores, higher_is_better=False)
    est = stats.expected_best_tang(scores, higher_is_better=False)
    assert np.all(hi <= max(scores)) and np.all(lo <= est) and np.all(est <= hi)
    # the better side may pass the best score seen: the true curve does, at large budgets
    assert hi[-1] >= est[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "dist",
    [sps.norm(0.9, 0.02), sps.beta(2, 8), sps.beta(8, 2)],
    ids=["normal", "beta(2,8)", "beta(8,2)"],
)
def test_bands_cover_the_true_curve_in_1000_simulated_sweeps(dist: sps.rv_continuous) -> None:
    n_trials, n_sweeps = 30, 1000
    truth = true_curve(dist, n_trials)
    rng = np.random.default_rng(2020)
    covered = np.zeros(n_trials)
    for _ in range(n_sweeps):
        lo, hi = stats.expected_best_band(
            dist.rvs(n_trials, random_state=rng), n_resamples=500, rng=rng
        )
        covered += (lo <= truth) & (truth <= hi)
    coverage = covered / n_sweeps
    assert coverage.mean() >= 0.93, coverage
    assert coverage.min() >= 0.92, coverage  # every budget, with Monte-Carlo slack of ~1 se


@pytest.mark.slow
def test_verdict_false_positive_rate_at_equal_curves_is_at_most_5_percent() -> None:
    rng = np.random.default_rng(2019)
    dist = sps.beta(8, 2)
    wrong = 0
    for i in range(1000):
        a, b = dist.rvs(20, random_state=rng), dist.rvs(20, random_state=rng)
        r = stats.compare_expected_best(
            a, b, budget=[1, 5, 20][i % 3], n_resamples=50, n_permutations=500, rng=rng
        )
        wrong += r.verdict is not labline.Verdict.NO_DETECTABLE_DIFFERENCE
    assert wrong / 1000 <= 0.05
