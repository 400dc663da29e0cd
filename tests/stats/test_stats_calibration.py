"""Seeded simulations: false-positive rate under a true null, interval coverage, power.

Every simulation draws from a known truth, so the rate of `better`/`worse` verdicts under the
null and the coverage of the 95% interval can be checked against their nominal values. The
generator is seeded: the tests are deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from labline.core import stats

N_SIMULATIONS = 1000
ACCURACY = stats.get_metric("accuracy")


def _correctness(
    rng: np.random.Generator, shared: np.ndarray, accuracy: float, rho: float = 0.5
) -> np.ndarray:
    """Per-example correctness with P(correct) = accuracy, correlated across models through ``shared``."""
    latent = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(size=shared.size)
    return latent < norm.ppf(accuracy)


def _as_predictions(correct: np.ndarray) -> stats.Predictions:
    # y_true is all zeros; a wrong prediction is class 1
    return stats.Predictions((~correct).astype(int))


def _paired_accuracy(
    rng: np.random.Generator, n: int, acc_a: float, acc_b: float
) -> stats.EncodedGroups:
    shared = rng.normal(size=n)
    a, b = _correctness(rng, shared, acc_a), _correctness(rng, shared, acc_b)
    return stats.encode_groups(
        ACCURACY, np.zeros(n, int), [_as_predictions(a)], [_as_predictions(b)]
    )


def _seeded_groups(
    rng: np.random.Generator, n: int, seeds: int, acc_a: float, acc_b: float, seed_sd: float = 0.01
) -> stats.EncodedGroups:
    shared = rng.normal(size=n)  # the test set: example difficulty shared by every run

    def group(acc: float) -> list[stats.Predictions]:
        return [
            _as_predictions(
                _correctness(rng, shared, float(np.clip(acc + rng.normal(0, seed_sd), 0.01, 0.99)))
            )
            for _ in range(seeds)
        ]

    return stats.encode_groups(ACCURACY, np.zeros(n, int), group(acc_a), group(acc_b))


def _decided(analysis: stats.DifferenceAnalysis) -> bool:
    return analysis.verdict in (stats.Verdict.BETTER, stats.Verdict.WORSE)


def test_paired_accuracy_null_false_positive_rate_and_coverage() -> None:
    rng = np.random.default_rng(2024)
    decided = covered = 0
    for _ in range(N_SIMULATIONS):
        analysis = stats.analyze_difference(
            _paired_accuracy(rng, 1000, 0.8, 0.8), n_resamples=1000, rng=rng
        )
        decided += _decided(analysis)
        covered += analysis.ci_low <= 0.0 <= analysis.ci_high
    assert 0.03 <= decided / N_SIMULATIONS <= 0.07
    assert 0.93 <= covered / N_SIMULATIONS <= 0.97


def test_paired_accuracy_interval_covers_a_real_difference() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(N_SIMULATIONS):
        boot = stats.bootstrap_difference(
            _paired_accuracy(rng, 1000, 0.78, 0.81), n_resamples=1000, rng=rng
        )
        covered += boot.ci_low <= 0.03 <= boot.ci_high
    assert 0.93 <= covered / N_SIMULATIONS <= 0.97


def test_paired_macro_f1_permutation_null_false_positive_rate() -> None:
    rng = np.random.default_rng(11)
    metric = stats.get_metric("macro_f1")
    decided = 0
    n = 300
    for _ in range(N_SIMULATIONS):
        y = rng.integers(0, 3, n)
        a = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
        b = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
        data = stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])
        analysis = stats.analyze_difference(data, n_resamples=300, n_permutations=300, rng=rng)
        decided += _decided(analysis)
    assert 0.03 <= decided / N_SIMULATIONS <= 0.07


@pytest.mark.slow
def test_two_level_bootstrap_with_seeds_is_calibrated() -> None:
    # 5 seeds per group; the truth includes seed-to-seed variance (sd 0.01) and test-set noise
    rng = np.random.default_rng(5)
    decided = covered = 0
    for _ in range(N_SIMULATIONS):
        data = _seeded_groups(rng, 300, 5, 0.8, 0.8)
        analysis = stats.analyze_difference(data, n_resamples=500, rng=rng)
        assert analysis.test.startswith("two-level bootstrap")
        decided += _decided(analysis)
        covered += analysis.ci_low <= 0.0 <= analysis.ci_high
    assert 0.03 <= decided / N_SIMULATIONS <= 0.07
    assert 0.93 <= covered / N_SIMULATIONS <= 0.97


def test_power_grows_with_examples() -> None:
    rng = np.random.default_rng(13)
    power = []
    for n in (300, 1500, 6000):
        hits = sum(
            stats.analyze_difference(
                _paired_accuracy(rng, n, 0.80, 0.82), n_resamples=200, rng=rng
            ).verdict
            is stats.Verdict.BETTER
            for _ in range(200)
        )
        power.append(hits / 200)
    assert power[0] < power[1] < power[2]
    assert power[2] > 0.8


def test_power_grows_with_seeds() -> None:
    rng = np.random.default_rng(17)
    power = []
    for seeds in (3, 12):
        hits = sum(
            stats.analyze_difference(
                _seeded_groups(rng, 300, seeds, 0.80, 0.83), n_resamples=300, rng=rng
            ).verdict
            is stats.Verdict.BETTER
            for _ in range(150)
        )
        power.append(hits / 150)
    assert power[0] < power[1]


def test_equivalence_is_declared_for_identical_models_on_a_large_test_set() -> None:
    rng = np.random.default_rng(19)
    analysis = stats.analyze_difference(
        _paired_accuracy(rng, 20_000, 0.8, 0.8), margin=0.01, rng=rng
    )
    assert analysis.verdict is stats.Verdict.EQUIVALENT
    assert analysis.verdict_text == "equivalent within ±0.01"


def test_few_seeds_are_flagged_with_a_seed_estimate() -> None:
    rng = np.random.default_rng(23)
    analysis = stats.analyze_difference(
        _seeded_groups(rng, 2000, 3, 0.8, 0.8, seed_sd=0.02), min_effect=0.01, rng=rng
    )
    assert analysis.n_baseline_runs == 3 and analysis.probability_of_improvement is not None
    assert (
        analysis.poi_ci is not None
        and analysis.poi_ci[0] <= analysis.probability_of_improvement <= analysis.poi_ci[1]
    )
    assert any("only 3 seeds" in note for note in analysis.notes)
    assert analysis.seeds_needed is not None and analysis.seeds_needed > 3


def test_paired_mae_null_false_positive_rate_and_coverage() -> None:
    # continuous per-example errors: the random-swap permutation path and the gather bootstrap
    rng = np.random.default_rng(31)
    metric = stats.get_metric("mae")
    decided = covered = 0
    n = 200
    for _ in range(N_SIMULATIONS):
        y = rng.normal(size=n)
        shared = rng.normal(0, 0.8, n)  # errors correlated across the two models
        a = y + shared + rng.normal(0, 0.6, n)
        b = y + shared + rng.normal(0, 0.6, n)
        data = stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])
        analysis = stats.analyze_difference(data, n_resamples=400, n_permutations=400, rng=rng)
        assert analysis.test == "paired permutation (approximate, 400 random swaps)"
        decided += _decided(analysis)
        covered += analysis.ci_low <= 0.0 <= analysis.ci_high
    assert 0.03 <= decided / N_SIMULATIONS <= 0.07
    assert 0.93 <= covered / N_SIMULATIONS <= 0.97
