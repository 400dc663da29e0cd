"""Paired AUC: DeLong's test against the paper, invariance to calibration, type-I error, and
the bootstrap's draw path against the weights path and scikit-learn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps
from sklearn import metrics as skm

from labline.core import stats

AUC = stats.get_metric("auc")


def _delong_reference(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong, DeLong & Clarke-Pearson (1988), straight from the paper: O(m n) kernel.

    psi(X, Y) = 1 if X > Y, 1/2 if X = Y, 0 otherwise; V10(X_i) = mean_j psi(X_i, Y_j),
    V01(Y_j) = mean_i psi(X_i, Y_j); S10, S01 their sample covariance matrices over the two
    models; Var(A_b - A_a) = c' (S10 / m + S01 / n) c with c = (-1, 1).
    Returns the difference and its two-sided normal p-value.
    """
    positive = y == 1
    v10, v01, aucs = [], [], []
    for s in (a, b):
        x, z = s[positive], s[~positive]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = positive.sum(), (~positive).sum()
    s10 = np.cov(np.vstack(v10))
    s01 = np.cov(np.vstack(v01))
    c = np.array([-1.0, 1.0])
    var = c @ (s10 / m + s01 / n) @ c
    diff = aucs[1] - aucs[0]
    return diff, float(2 * sps.norm.sf(abs(diff) / np.sqrt(var)))


def _proba(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - p, p])


def _encode(y, pa, pb) -> stats.EncodedGroups:
    return stats.encode_groups(
        AUC,
        y,
        [stats.Predictions((pa > 0.5).astype(int), _proba(pa))],
        [stats.Predictions((pb > 0.5).astype(int), _proba(pb))],
    )


def _on_draws(evaluate, draws: np.ndarray, n: int) -> np.ndarray:
    """The evaluator on each resample, given (as it takes them) as draw counts per example."""
    return np.array([evaluate(np.bincount(d, minlength=n)) for d in draws])


def _equal_auc_different_calibration(rng: np.random.Generator, n: int, reps: int):
    """Two models with the same population AUC; the second one's scores are cubed.

    A shared latent signal drives the label; each model sees it through independent noise of
    the same size, so their AUCs are equal in the population, while cubing squashes the second
    model's probabilities towards 0 (a very different calibration, the same ranking power).
    """
    signal = rng.normal(size=(reps, n))
    y = (rng.random((reps, n)) < 1 / (1 + np.exp(-2 * signal))).astype(int)
    pa = 1 / (1 + np.exp(-(signal + rng.normal(size=(reps, n)))))
    pb = (1 / (1 + np.exp(-(signal + rng.normal(size=(reps, n)))))) ** 3
    return y, pa, pb


@pytest.mark.parametrize("seed,tied", [(0, False), (1, False), (2, True), (3, True)])
def test_delong_matches_the_papers_quadratic_formula(seed: int, tied: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, 2, n)
    pa = 1 / (1 + np.exp(-(y + rng.normal(0, 1.2, n))))
    pb = 1 / (1 + np.exp(-(1.3 * y + rng.normal(0, 1.2, n))))
    if tied:
        pa, pb = np.round(pa, 1), np.round(pb, 2)
    diff, p_ref = _delong_reference(y, pa, pb)
    ours = stats.delong_test(y, pa, pb)
    assert ours.difference == pytest.approx(diff, abs=1e-12)
    assert ours.candidate_auc == pytest.approx(skm.roc_auc_score(y, pb), abs=1e-12)
    assert ours.p_value == pytest.approx(p_ref, rel=1e-9)
    encoded = stats.delong_from_encoded(_encode(y, pa, pb))
    assert encoded.p_value == pytest.approx(p_ref, rel=1e-9)
    analysis = stats.analyze_difference(_encode(y, pa, pb), n_resamples=200, rng=0)
    assert analysis.test.startswith("DeLong")
    assert analysis.p_value == pytest.approx(p_ref, rel=1e-9)


def test_multiclass_delong_standard_error_agrees_with_the_bootstrap() -> None:
    rng = np.random.default_rng(7)
    n, k = 1500, 3
    y = rng.integers(0, k, n)
    logits_a = rng.normal(size=(n, k)) + 1.0 * np.eye(k)[y]
    logits_b = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    pa = np.exp(logits_a) / np.exp(logits_a).sum(1, keepdims=True)
    pb = np.exp(logits_b) / np.exp(logits_b).sum(1, keepdims=True)
    data = stats.encode_groups(
        AUC, y, [stats.Predictions(pa.argmax(1), pa)], [stats.Predictions(pb.argmax(1), pb)]
    )
    result = stats.delong_from_encoded(data)
    expected = skm.roc_auc_score(y, pb, multi_class="ovr") - skm.roc_auc_score(
        y, pa, multi_class="ovr"
    )
    assert result.difference == pytest.approx(expected, abs=1e-12)
    boot = stats.bootstrap_difference(data, n_resamples=2000, rng=1)
    assert result.standard_error == pytest.approx(float(np.std(boot.distribution)), rel=0.1)


def test_auc_tests_are_invariant_to_monotone_transforms_of_each_models_scores() -> None:
    rng = np.random.default_rng(11)
    n = 120
    y = rng.integers(0, 2, n)
    pa = 1 / (1 + np.exp(-(y + rng.normal(0, 1, n))))
    pb = 1 / (1 + np.exp(-(1.4 * y + rng.normal(0, 1, n))))
    plain = _encode(y, pa, pb)
    # cube one model, squash the other: every score moves, no ordering does
    transformed = _encode(y, np.sqrt(pa), pb**3)
    assert stats.delong_from_encoded(transformed).p_value == pytest.approx(
        stats.delong_from_encoded(plain).p_value, rel=1e-12
    )
    perm_plain = stats.paired_permutation_test(plain, n_resamples=2000, rng=3)
    perm_transformed = stats.paired_permutation_test(transformed, n_resamples=2000, rng=3)
    assert perm_transformed.statistic == pytest.approx(perm_plain.statistic, abs=1e-12)
    assert perm_transformed.p_value == pytest.approx(perm_plain.p_value, abs=1e-12)


def test_delong_type_one_error_with_equal_auc_and_different_calibration() -> None:
    rng = np.random.default_rng(2024)
    reps, n = 1500, 200
    y, pa, pb = _equal_auc_different_calibration(rng, n, reps)
    p = np.array([stats.delong_test(y[i], pa[i], pb[i]).p_value for i in range(reps)])
    assert 0.03 <= float(np.mean(p < 0.05)) <= 0.07


def test_rank_permutation_type_one_error_with_equal_auc_and_different_calibration() -> None:
    # swapping raw scores between a calibrated model and a cubed one inflated the null spread:
    # the old test rejected (almost) never; swapping ranks restores the nominal level
    rng = np.random.default_rng(77)
    reps, n = 600, 80
    y, pa, pb = _equal_auc_different_calibration(rng, n, reps)
    rejected = [
        stats.paired_permutation_test(_encode(y[i], pa[i], pb[i]), n_resamples=199, rng=i).p_value
        < 0.05
        for i in range(reps)
    ]
    assert 0.03 <= float(np.mean(rejected)) <= 0.07


@pytest.mark.parametrize("tied", [False, True])
def test_bootstrap_draw_path_equals_weights_path_and_sklearn(tied: bool) -> None:
    rng = np.random.default_rng(5)
    n = 400
    y = rng.integers(0, 2, n)
    pa = 1 / (1 + np.exp(-(y + rng.normal(0, 1, n))))
    pb = 1 / (1 + np.exp(-(1.2 * y + rng.normal(0, 1, n))))
    if tied:
        pa, pb = np.round(pa, 1), np.round(pb, 1)
    data = _encode(y, pa, pb)
    columns = data.baseline_columns[0]
    draws = rng.integers(0, n, size=(50, n))
    evaluate = AUC.draw_evaluator
    assert evaluate is not None
    # the same drawn examples scored by the draw path and, as draw counts, by the weights path
    owner = np.repeat(np.arange(data.rows.shape[0]), data.counts)
    weights = np.stack([np.bincount(owner[d], minlength=data.rows.shape[0]) for d in draws])
    np.testing.assert_allclose(
        _on_draws(evaluate(data.rows[:, columns], data.counts), draws, n),
        AUC.evaluate(data.rows[:, columns], weights.astype(np.float64)),
        rtol=0,
        atol=1e-12,
    )
    # and the whole bootstrap agrees in distribution with the weights path
    fast = stats.bootstrap_difference(data, n_resamples=4000, rng=9)
    slow_metric = dataclasses.replace(AUC, draw_evaluator=None)
    slow = stats.bootstrap_difference(
        dataclasses.replace(data, metric=slow_metric), n_resamples=4000, rng=10
    )
    spread = float(np.std(slow.distribution))
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=0.15 * spread)
    assert fast.ci_high == pytest.approx(slow.ci_high, abs=0.15 * spread)
    draws = draws[:4]
    examples = np.repeat(data.rows[:, columns], data.counts, axis=0)
    values = _on_draws(evaluate(data.rows[:, columns], data.counts), draws, n)
    for row, value in zip(draws, values, strict=True):
        assert value == pytest.approx(
            skm.roc_auc_score(examples[row, 0], examples[row, 1]), rel=1e-12
        )


def test_multiclass_draw_path_equals_sklearn() -> None:
    rng = np.random.default_rng(6)
    n, k = 300, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + np.eye(k)[y]
    p = np.round(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), 2)
    p = p / p.sum(1, keepdims=True)
    rows = AUC.encode(y, p.argmax(1), p)
    evaluate = AUC.draw_evaluator
    assert evaluate is not None
    draws = rng.integers(0, n, size=(3, n))
    values = _on_draws(evaluate(rows, np.ones(n, dtype=np.int64)), draws, n)
    for row, value in zip(draws, values, strict=True):
        assert value == pytest.approx(
            skm.roc_auc_score(y[row], p[row], multi_class="ovr"), rel=1e-12
        )
