"""Run-level statistics (runs as the units) against scipy, and by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from labline import InvalidArgumentError
from labline.core import stats


def _mean_difference(x, y, axis=-1):
    return np.mean(y, axis=axis) - np.mean(x, axis=axis)


def _paired_mean_difference(x, y, axis=-1):
    return np.mean(y - x, axis=axis)


@pytest.mark.parametrize(("n_a", "n_b", "seed"), [(2, 2, 0), (3, 7, 1), (5, 5, 2), (12, 4, 3)])
def test_welch_matches_scipy_ttest_ind(n_a: int, n_b: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.8, 0.02, n_a), rng.normal(0.81, 0.05, n_b)
    mine = stats.welch_t_test(a, b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert mine.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert mine.df == pytest.approx(ref.df, rel=1e-12)
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_paired_t_matches_scipy_ttest_rel() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(0.8, 0.02, 6)
    b = a + rng.normal(0.005, 0.01, 6)
    mine = stats.paired_t_test(a, b)
    ref = sps.ttest_rel(b, a)
    assert mine.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-10)


@pytest.mark.parametrize(("n_a", "n_b", "seed"), [(3, 3, 0), (4, 6, 1), (5, 5, 2), (2, 7, 3)])
def test_unpaired_permutation_is_exact_and_matches_scipy(n_a: int, n_b: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.0, 1.0, n_a), rng.normal(0.8, 1.0, n_b)
    mine = stats.run_permutation_test(a, b, paired=False, n_resamples=10_000, rng=0)
    ref = sps.permutation_test(
        (a, b), _mean_difference, vectorized=True, n_resamples=10_000, random_state=0
    )
    assert mine.exact
    assert mine.statistic == pytest.approx(ref.statistic)
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_paired_permutation_is_exact_and_matches_scipy_with_ties() -> None:
    a = np.array([0.80, 0.81, 0.79, 0.82, 0.80, 0.83, 0.78])
    b = np.array([0.81, 0.81, 0.80, 0.84, 0.79, 0.85, 0.80])  # one tied pair
    mine = stats.run_permutation_test(a, b, paired=True, n_resamples=10_000, rng=0)
    ref = sps.permutation_test(
        (a, b),
        _paired_mean_difference,
        vectorized=True,
        permutation_type="samples",
        n_resamples=10_000,
    )
    assert mine.exact and mine.n_resamples == 2**7
    assert mine.p_value == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize("paired", [False, True])
def test_random_permutations_agree_with_scipy_within_monte_carlo_error(paired: bool) -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(0.0, 1.0, 15)
    b = a * paired + rng.normal(0.5, 1.0, 15)
    mine = stats.run_permutation_test(a, b, paired=paired, n_resamples=20_000, rng=1)
    ref = sps.permutation_test(
        (a, b),
        _paired_mean_difference if paired else _mean_difference,
        vectorized=True,
        permutation_type="samples" if paired else "independent",
        n_resamples=20_000,
        random_state=2,
    )
    assert not mine.exact
    se = np.sqrt(ref.pvalue * (1 - ref.pvalue) / 20_000)
    assert abs(mine.p_value - ref.pvalue) < 2 * 4 * se + 1e-3


@pytest.mark.parametrize("paired", [False, True])
def test_bootstrap_percentile_interval_matches_scipy(paired: bool) -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(0.8, 0.02, 10)
    b = (a if paired else rng.normal(0.8, 0.02, 10)) + rng.gamma(2.0, 0.01, 10)
    dist = stats.run_bootstrap(a, b, paired=paired, n_resamples=40_000, rng=0)
    low, high = stats.percentile_interval(dist, 0.95)
    ref = sps.bootstrap(
        (a, b),
        _paired_mean_difference if paired else _mean_difference,
        paired=paired,
        vectorized=True,
        n_resamples=40_000,
        method="percentile",
        random_state=1,
    )
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    assert dist.std(ddof=1) == pytest.approx(ref.standard_error, rel=0.03)


@pytest.mark.parametrize(("paired", "n_runs"), [(False, 8), (True, 8), (False, 3), (True, 4)])
def test_run_level_test_holds_its_type_one_error(paired: bool, n_runs: int) -> None:
    """Equal groups: the verdict is 'better' or 'worse' in about alpha of the simulations.

    8 runs: the permutation test decides; 3 runs (4 seed pairs): it cannot reach 0.05, so the
    Welch (paired) t-test decides.
    """
    rng = np.random.default_rng(7 + 10 * paired + n_runs)
    n_sims = 1_000
    rejected = 0
    for _ in range(n_sims):
        seed_effect = rng.normal(0.0, 0.02, n_runs) if paired else 0.0
        a = 0.8 + seed_effect + rng.normal(0.0, 0.01, n_runs)
        b = 0.8 + seed_effect + rng.normal(0.0, 0.01, n_runs)
        seeds = list(range(n_runs)) if paired else None
        analysis = stats.analyze_run_values(
            a,
            b,
            metric="val_accuracy",
            higher_is_better=True,
            baseline_seeds=seeds,
            candidate_seeds=seeds,
            n_resamples=499,
            rng=rng,
        )
        assert analysis.paired_by_seed is paired
        assert ("permutation" in analysis.test) is (n_runs == 8)
        rejected += analysis.verdict is not stats.Verdict.NO_DETECTABLE_DIFFERENCE
    assert 0.03 <= rejected / n_sims <= 0.07


@pytest.mark.parametrize("n_runs", [3, 5])
def test_interval_covers_the_true_difference_with_few_runs(n_runs: int) -> None:
    rng = np.random.default_rng(10 + n_runs)
    n_sims, covered = 600, 0
    for _ in range(n_sims):
        a = rng.normal(0.80, 0.01, n_runs)
        b = rng.normal(0.81, 0.02, n_runs)
        analysis = stats.analyze_run_values(
            a, b, metric="m", higher_is_better=True, n_resamples=999, rng=rng
        )
        covered += analysis.ci_low <= 0.01 <= analysis.ci_high
    assert 0.92 <= covered / n_sims <= 0.98


def test_seeds_pair_when_shared_and_unmatched_runs_are_left_out() -> None:
    assert stats.pair_by_seed([1, 2, 3], [3, 1, 2]) == [(0, 1), (1, 2), (2, 0)]
    assert stats.pair_by_seed([1, 2, 3], [2, 3, 4]) == [(1, 0), (2, 1)]
    assert stats.pair_by_seed([1, 2, None], [1, 2, 3]) is None
    assert stats.pair_by_seed([1, 1, 2], [1, 2, 3]) is None
    assert stats.pair_by_seed([1, 2], [2, 3]) is None  # one shared seed is no pairing
    base = np.array([0.80, 0.82, 0.79, 0.81])
    cand = np.array([0.83, 0.81, 0.82])
    analysis = stats.analyze_run_values(
        base,
        cand,
        metric="val_accuracy",
        higher_is_better=True,
        baseline_seeds=[0, 1, 2, 3],
        candidate_seeds=[3, 1, 0],
        n_resamples=500,
        rng=0,
    )
    assert analysis.paired_by_seed and analysis.level == "run"
    assert analysis.n_baseline_runs == analysis.n_candidate_runs == 3
    assert analysis.estimate == pytest.approx(np.mean([0.83 - 0.81, 0.81 - 0.82, 0.82 - 0.80]))
    assert any("1 run(s) whose seed the other group did not run" in n for n in analysis.notes)


def test_paired_seeds_remove_the_shared_seed_effect() -> None:
    rng = np.random.default_rng(12)
    seed_effect = rng.normal(0.0, 0.05, 10)
    a = 0.8 + seed_effect + rng.normal(0.0, 0.002, 10)
    b = 0.81 + seed_effect + rng.normal(0.0, 0.002, 10)
    common = {"metric": "val_accuracy", "higher_is_better": True, "n_resamples": 2_000, "rng": 0}
    unpaired = stats.analyze_run_values(a, b, **common)
    paired = stats.analyze_run_values(
        a, b, baseline_seeds=range(10), candidate_seeds=range(10), **common
    )
    assert paired.verdict is stats.Verdict.BETTER
    assert unpaired.verdict is stats.Verdict.NO_DETECTABLE_DIFFERENCE
    assert paired.ci_high - paired.ci_low < (unpaired.ci_high - unpaired.ci_low) / 5
    assert paired.cross_checks[0].test == "paired t-test"
    assert unpaired.cross_checks[0].test == "Welch t-test"
    ref = sps.ttest_ind(b, a, equal_var=False).pvalue
    assert unpaired.cross_checks[0].p_value == pytest.approx(ref)


def test_lower_is_better_and_the_power_caveat() -> None:
    loss_base = [0.40, 0.41, 0.39]
    loss_cand = [0.30, 0.31, 0.29]
    analysis = stats.analyze_run_values(
        loss_base, loss_cand, metric="val_loss", higher_is_better=False, rng=0
    )
    assert analysis.estimate == pytest.approx(-0.1)
    # 3 + 3 runs: 20 arrangements, so the permutation p >= 0.1 whatever the data; Welch decides
    assert analysis.test == "run-level Welch t-test"
    assert analysis.p_value == pytest.approx(
        sps.ttest_ind(loss_cand, loss_base, equal_var=False).pvalue
    )
    assert analysis.cross_checks[0].test == "permutation over runs (exact)"
    assert analysis.cross_checks[0].p_value == pytest.approx(0.1)
    assert analysis.verdict is stats.Verdict.BETTER
    assert analysis.probability_of_improvement == 1.0
    assert any("cannot reach p < 0.05" in n and "4+ runs per group" in n for n in analysis.notes)
    caveat = next(n for n in analysis.notes if n.startswith("low power"))
    assert "only 3 runs" in caveat and "would be detected only 80% of the time" in caveat
    more = stats.analyze_run_values(
        [0.40, 0.41, 0.39, 0.40, 0.42],
        [0.30, 0.31, 0.29, 0.30, 0.32],
        metric="val_loss",
        higher_is_better=False,
        rng=0,
    )
    assert more.test == "run-level permutation over runs (exact)"
    assert more.p_value == pytest.approx(2 / 252)
    assert more.verdict is stats.Verdict.BETTER
    assert not any("cannot reach" in n for n in more.notes)
    paired = stats.analyze_run_values(
        loss_base,
        loss_cand,
        metric="val_loss",
        higher_is_better=False,
        baseline_seeds=[1, 2, 3],
        candidate_seeds=[1, 2, 3],
        rng=0,
    )
    assert paired.test == "run-level paired t-test" and "6+ runs per group" in " ".join(
        paired.notes
    )


def test_margin_gives_equivalence_and_min_effect_runs_needed() -> None:
    rng = np.random.default_rng(13)
    a, b = rng.normal(0.8, 0.002, 12), rng.normal(0.8, 0.002, 12)
    analysis = stats.analyze_run_values(
        a, b, metric="m", higher_is_better=True, margin=0.01, min_effect=0.0001, rng=0
    )
    assert analysis.verdict is stats.Verdict.EQUIVALENT
    assert analysis.seeds_needed is not None and analysis.seeds_needed > 12
    assert any("runs per group would detect" in n for n in analysis.notes)


def test_bad_inputs_are_refused_naming_the_problem() -> None:
    with pytest.raises(InvalidArgumentError, match="at least 2 runs per group"):
        stats.analyze_run_values([0.8], [0.7, 0.9], metric="val_accuracy", higher_is_better=True)
    with pytest.raises(InvalidArgumentError, match="finite"):
        stats.analyze_run_values([0.8, float("nan")], [0.7, 0.9], metric="m", higher_is_better=True)
    with pytest.raises(InvalidArgumentError, match="one seed per run"):
        stats.analyze_run_values(
            [0.8, 0.7],
            [0.7, 0.9],
            metric="m",
            higher_is_better=True,
            baseline_seeds=[1],
            candidate_seeds=[1, 2],
        )
    with pytest.raises(InvalidArgumentError, match="alpha"):
        stats.analyze_run_values([0.8, 0.7], [0.7, 0.9], metric="m", higher_is_better=True, alpha=1)


def test_identical_values_give_no_difference_without_nan() -> None:
    analysis = stats.analyze_run_values(
        [0.8, 0.8, 0.8], [0.8, 0.8, 0.8], metric="m", higher_is_better=True, rng=0
    )
    assert analysis.estimate == 0.0 and analysis.p_value == 1.0
    assert (analysis.ci_low, analysis.ci_high) == (0.0, 0.0)
    assert analysis.verdict is stats.Verdict.NO_DETECTABLE_DIFFERENCE
