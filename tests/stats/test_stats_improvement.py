"""P(improvement) and the sign convention of differences and improvements."""

from __future__ import annotations

import numpy as np
import pytest

from labline.core import stats

ACCURACY = stats.get_metric("accuracy")


def _runs_with_correct_counts(rng: np.random.Generator, n: int, counts: list[int]) -> list:
    """One run per count: exactly that many examples right, at random places (label 0)."""
    runs = []
    for k in counts:
        correct = np.zeros(n, dtype=bool)
        correct[rng.choice(n, size=k, replace=False)] = True
        runs.append(stats.Predictions((~correct).astype(int)))
    return runs


def _independent_two_level_poi(
    base: np.ndarray, cand: np.ndarray, resamples: int, rng: np.random.Generator
) -> float:
    """Two-level bootstrap written out: draw examples, then seeds, score, share of pairs won."""
    n = base.shape[1]
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        b = base[rng.integers(0, base.shape[0], base.shape[0])][:, idx].mean(axis=1)
        c = cand[rng.integers(0, cand.shape[0], cand.shape[0])][:, idx].mean(axis=1)
        diff = c[:, None] - b[None, :]
        values.append(((diff > 0) + 0.5 * (diff == 0)).mean())
    return float(np.mean(values))


def test_probability_of_improvement_agrees_with_its_interval_and_a_two_level_bootstrap() -> None:
    rng = np.random.default_rng(31)
    n = 400
    # every candidate run is right on a few more examples than every baseline run: the share of
    # pairs won on this one test set is 1.00, although the test set's noise is far larger
    base = _runs_with_correct_counts(rng, n, [300, 301, 302])
    cand = _runs_with_correct_counts(rng, n, [304, 305, 306])
    data = stats.encode_groups(ACCURACY, np.zeros(n, int), base, cand)
    analysis = stats.analyze_difference(data, n_resamples=4000, rng=2)
    poi, interval = analysis.probability_of_improvement, analysis.poi_ci
    assert poi is not None and interval is not None
    assert interval[0] <= poi <= interval[1]
    correct_base = np.array([np.asarray(r.y_pred) == 0 for r in base], dtype=float)
    correct_cand = np.array([np.asarray(r.y_pred) == 0 for r in cand], dtype=float)
    reference = _independent_two_level_poi(correct_base, correct_cand, 3000, rng)
    assert poi == pytest.approx(reference, abs=0.03)
    assert poi < 0.95  # not the 1.00 of the single test set
    # it says what it estimates, and that three seeds are too few to pin it down
    assert any("new seed" in note for note in analysis.notes)
    assert any("too few to estimate it" in note for note in analysis.notes)


def test_many_seeds_and_a_clear_difference_give_no_too_few_seeds_note() -> None:
    rng = np.random.default_rng(32)
    n = 2000
    base = _runs_with_correct_counts(rng, n, [1400 + i for i in range(8)])
    cand = _runs_with_correct_counts(rng, n, [1600 + i for i in range(8)])
    data = stats.encode_groups(ACCURACY, np.zeros(n, int), base, cand)
    analysis = stats.analyze_difference(data, n_resamples=2000, rng=3)
    assert analysis.probability_of_improvement == pytest.approx(1.0, abs=0.01)
    assert not any("too few to estimate it" in note for note in analysis.notes)


@pytest.mark.parametrize("metric,higher", [("accuracy", True), ("log_loss", False)])
def test_difference_is_candidate_minus_baseline_and_improvement_is_direction_adjusted(
    metric: str, higher: bool
) -> None:
    rng = np.random.default_rng(33)
    n = 500
    y = rng.integers(0, 2, n)
    p_good = np.clip(0.5 + 0.35 * (2 * y - 1) + rng.normal(0, 0.1, n), 0.01, 0.99)
    p_bad = np.clip(0.5 + 0.15 * (2 * y - 1) + rng.normal(0, 0.1, n), 0.01, 0.99)
    m = stats.get_metric(metric)

    def run(p: np.ndarray) -> stats.Predictions:
        return stats.Predictions((p > 0.5).astype(int), np.column_stack([1 - p, p]))

    # the candidate is the worse model on both metrics
    data = stats.encode_groups(m, y, [run(p_good)], [run(p_bad)])
    a = stats.analyze_difference(data, n_resamples=500, rng=0)
    assert a.difference == pytest.approx(a.candidate_mean - a.baseline_mean)
    assert a.difference_ci == (a.ci_low, a.ci_high)
    assert a.improvement < 0  # worse, whatever the metric's direction
    assert a.improvement == pytest.approx(a.difference if higher else -a.difference)
    low, high = a.improvement_ci
    assert low <= a.improvement <= high
    assert (low, high) == pytest.approx(
        (a.ci_low, a.ci_high) if higher else (-a.ci_high, -a.ci_low)
    )
