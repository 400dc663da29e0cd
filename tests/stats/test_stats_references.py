"""labline.core.stats against reference implementations on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import metrics as rliable_metrics
from scipy import stats as sps
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

from labline import InvalidArgumentError
from labline.core import stats


def _encode(metric: str, y, a, b, proba_a=None, proba_b=None, **kw) -> stats.EncodedGroups:
    return stats.encode_groups(
        stats.get_metric(metric),
        y,
        [stats.Predictions(a, proba_a)],
        [stats.Predictions(b, proba_b)],
        **kw,
    )


def _macro_f1_ref(y, p) -> float:
    return float(skm.f1_score(y, p, average="macro", zero_division=0))


def _macro_f1_vectorized(y, p):
    """Macro-F1 of each row of ``p`` (shape (..., n)) — a loop over classes, checked against sklearn."""
    f1_sum, n_present = 0.0, 0
    for k in np.union1d(np.unique(y), np.unique(p)):
        tp = ((p == k) & (y == k)).sum(axis=-1)
        support = (p == k).sum(axis=-1) + (y == k).sum()
        present = support > 0
        f1_sum = f1_sum + np.where(present, 2 * tp / np.maximum(support, 1), 0.0)
        n_present = n_present + present
    return f1_sum / n_present


def _auc_vectorized(y, s):
    """Binary AUC of each row of ``s`` via the rank-sum (Mann–Whitney) formula, ties averaged."""
    ranks = sps.rankdata(s, axis=-1)
    n1, n0 = (y == 1).sum(), (y == 0).sum()
    return (ranks[..., y == 1].sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


# --- McNemar -------------------------------------------------------------------------------


def test_mcnemar_matches_statsmodels_on_issue_table() -> None:
    table = [[23, 15], [19, 31]]
    expected = sm_mcnemar(table, exact=True).pvalue
    assert stats.mcnemar_exact(15, 19) == pytest.approx(expected, rel=1e-12)
    assert round(stats.mcnemar_exact(15, 19), 4) == 0.6076


@pytest.mark.parametrize("b,c", [(0, 0), (0, 7), (3, 3), (40, 61), (250, 199)])
def test_mcnemar_matches_statsmodels_on_more_tables(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else sm_mcnemar([[10, b], [c, 10]], exact=True).pvalue
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_from_predictions_counts_discordant_pairs_and_equals_exact_permutation() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 400)
    a = np.where(rng.random(400) < 0.7, y, (y + 1) % 3)
    b = np.where(rng.random(400) < 0.75, y, (y + 2) % 3)
    data = _encode("accuracy", y, a, b)
    mc = stats.mcnemar_from_encoded(data)
    assert mc.baseline_only == int(((a == y) & (b != y)).sum())
    assert mc.candidate_only == int(((a != y) & (b == y)).sum())
    perm = stats.paired_permutation_test(data, n_resamples=10, rng=0)
    assert perm.exact  # accuracy pools into one binomial: exact at any size
    assert perm.p_value == pytest.approx(mc.p_value, rel=1e-9)


# --- permutation test ------------------------------------------------------------------------


def test_permutation_accuracy_matches_scipy_exact() -> None:
    rng = np.random.default_rng(0)
    n = 13
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.6, y, 1 - y)
    b = np.where(rng.random(n) < 0.9, y, 1 - y)
    ref = sps.permutation_test(
        (b, a),
        lambda pb, pa, axis: (pb == y).mean(axis=axis) - (pa == y).mean(axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf,
    )
    ours = stats.paired_permutation_test(_encode("accuracy", y, a, b), rng=0)
    assert ours.exact
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_permutation_macro_f1_matches_scipy_exact() -> None:
    rng = np.random.default_rng(1)
    n = 12
    y = rng.integers(0, 3, n)
    a = np.where(rng.random(n) < 0.5, y, rng.integers(0, 3, n))
    b = np.where(rng.random(n) < 0.8, y, rng.integers(0, 3, n))
    assert _macro_f1_vectorized(y, b) == pytest.approx(_macro_f1_ref(y, b))
    ref = sps.permutation_test(
        (b, a),
        lambda pb, pa, axis: _macro_f1_vectorized(y, pb) - _macro_f1_vectorized(y, pa),
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf,
    )
    ours = stats.paired_permutation_test(_encode("macro_f1", y, a, b), n_resamples=5000, rng=0)
    assert ours.exact
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_permutation_auc_matches_scipy_exact() -> None:
    rng = np.random.default_rng(2)
    n = 11
    y = np.r_[np.zeros(5, int), np.ones(6, int)]
    pa = np.clip(0.5 + 0.2 * (y - 0.5) + rng.normal(0, 0.25, n), 0, 1)
    pb = np.clip(0.5 + 0.6 * (y - 0.5) + rng.normal(0, 0.25, n), 0, 1)
    assert _auc_vectorized(y, pb) == pytest.approx(skm.roc_auc_score(y, pb))
    ref = sps.permutation_test(
        (pb, pa),
        lambda sb, sa, axis: _auc_vectorized(y, sb) - _auc_vectorized(y, sa),
        permutation_type="samples",
        vectorized=True,
        n_resamples=np.inf,
    )
    proba = lambda p: np.column_stack([1 - p, p])  # noqa: E731
    data = _encode("auc", y, (pa > 0.5).astype(int), (pb > 0.5).astype(int), proba(pa), proba(pb))
    ours = stats.paired_permutation_test(data, n_resamples=4096, rng=0)
    assert ours.exact
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_permutation_mae_monte_carlo_agrees_with_scipy() -> None:
    rng = np.random.default_rng(4)
    n = 300
    y = rng.normal(size=n)
    a = y + rng.normal(0, 1.0, n)
    b = y + rng.normal(0, 0.9, n)
    ref = sps.permutation_test(
        (b, a),
        lambda pb, pa, axis: np.abs(pb - y).mean(axis=axis) - np.abs(pa - y).mean(axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=20_000,
        rng=np.random.default_rng(5),
    )
    ours = stats.paired_permutation_test(_encode("mae", y, a, b), n_resamples=20_000, rng=6)
    assert not ours.exact
    assert ours.statistic == pytest.approx(ref.statistic)
    assert abs(ours.p_value - ref.pvalue) < 0.015


# --- bootstrap ---------------------------------------------------------------------------------


def _check_against_scipy_bootstrap(data: stats.EncodedGroups, columns, statistic) -> None:
    ours = stats.bootstrap_difference(data, n_resamples=20_000, confidence=0.95, rng=7)
    ref = sps.bootstrap(
        columns,
        statistic,
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=20_000,
        rng=np.random.default_rng(8),
    )
    se = ref.standard_error
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.1 * se)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.1 * se)
    assert np.nanstd(ours.distribution, ddof=1) == pytest.approx(se, rel=0.05)


def test_bootstrap_accuracy_difference_matches_scipy() -> None:
    rng = np.random.default_rng(10)
    n = 500
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.7, y, 1 - y)
    b = np.where(rng.random(n) < 0.78, y, 1 - y)
    correct_a, correct_b = (a == y).astype(float), (b == y).astype(float)
    _check_against_scipy_bootstrap(
        _encode("accuracy", y, a, b),
        (correct_b, correct_a),
        lambda cb, ca, axis: cb.mean(axis=axis) - ca.mean(axis=axis),
    )


def test_bootstrap_macro_f1_difference_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    n = 300
    y = rng.integers(0, 4, n)
    a = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
    b = np.where(rng.random(n) < 0.7, y, rng.integers(0, 4, n))
    idx = np.arange(n)

    def statistic(i, axis=-1):  # vectorized over resamples: i has shape (..., n)
        i = np.asarray(i).astype(int)
        f = lambda p: np.array([_macro_f1_vectorized(y[r], p[r]) for r in i.reshape(-1, n)])  # noqa: E731
        return (f(b) - f(a)).reshape(i.shape[:-1])

    ours = stats.bootstrap_difference(_encode("macro_f1", y, a, b), n_resamples=4_000, rng=7)
    ref = sps.bootstrap(
        (idx,),
        statistic,
        vectorized=True,
        method="percentile",
        n_resamples=4_000,
        rng=np.random.default_rng(8),
    )
    se = ref.standard_error
    assert ours.estimate == pytest.approx(_macro_f1_ref(y, b) - _macro_f1_ref(y, a))
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.15 * se)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.15 * se)


def test_bootstrap_log_loss_difference_matches_scipy() -> None:
    rng = np.random.default_rng(12)
    n = 400
    y = rng.integers(0, 2, n)
    pa = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, n), 0.01, 0.99)
    pb = np.clip(0.5 + 0.4 * (y - 0.5) + rng.normal(0, 0.2, n), 0.01, 0.99)
    loss = lambda p: -np.log(np.where(y == 1, p, 1 - p))  # noqa: E731
    data = _encode(
        "log_loss",
        y,
        (pa > 0.5).astype(int),
        (pb > 0.5).astype(int),
        np.column_stack([1 - pa, pa]),
        np.column_stack([1 - pb, pb]),
    )
    _check_against_scipy_bootstrap(
        data, (loss(pb), loss(pa)), lambda lb, la, axis: lb.mean(axis=axis) - la.mean(axis=axis)
    )


def test_merged_rows_and_raw_indices_give_the_same_distribution() -> None:
    rng = np.random.default_rng(13)
    n = 2000
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.8, y, 1 - y)
    b = np.where(rng.random(n) < 0.82, y, 1 - y)
    merged = stats.bootstrap_difference(_encode("accuracy", y, a, b), n_resamples=20_000, rng=1)
    raw = stats.bootstrap_difference(
        _encode("accuracy", y, a, b, merge_identical=False), n_resamples=20_000, rng=2
    )
    assert merged.estimate == raw.estimate
    assert merged.distribution.std() == pytest.approx(raw.distribution.std(), rel=0.03)
    assert merged.ci_low == pytest.approx(raw.ci_low, abs=0.002)
    assert merged.ci_high == pytest.approx(raw.ci_high, abs=0.002)


def test_blocks_bound_memory_without_changing_the_result_size() -> None:
    rng = np.random.default_rng(14)
    y = rng.normal(size=1000)
    data = _encode("mae", y, y + rng.normal(size=1000), y + rng.normal(size=1000))
    res = stats.bootstrap_difference(data, n_resamples=1234, rng=0, max_block_elements=5000)
    assert res.n_resamples == 1234
    assert np.isfinite(res.distribution).all()


# --- metrics under weights equal scikit-learn on the expanded data ----------------------------


def _sklearn_reference(name: str, yt, yp, proba, k: int) -> float:
    if name == "accuracy":
        return float(skm.accuracy_score(yt, yp))
    if name == "macro_f1":
        return float(skm.f1_score(yt, yp, average="macro", zero_division=0))
    if name == "auc":
        return float(skm.roc_auc_score(yt, proba, multi_class="ovr"))
    if name == "log_loss":
        return float(skm.log_loss(yt, proba, labels=list(range(k))))
    if name == "mae":
        return float(skm.mean_absolute_error(yt, yp))
    mse = float(skm.mean_squared_error(yt, yp))
    return mse if name == "mse" else float(np.sqrt(mse))


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "auc", "log_loss", "mae", "mse", "rmse"])
def test_weighted_metrics_equal_sklearn_on_repeated_examples(name: str) -> None:
    rng = np.random.default_rng(20)
    n, k = 60, 3
    metric = stats.get_metric(name)
    if metric.kind == "regression":
        y = rng.normal(size=n)
        pred = y + rng.normal(size=n)
        proba = None
    else:
        y = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
        proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        pred = proba.argmax(1)
    rows = metric.encode(y, pred, proba)
    weights = rng.integers(0, 4, size=(5, n)).astype(float)
    ours = metric.evaluate(rows, weights)
    for w, value in zip(weights, ours, strict=True):
        rep = np.repeat(np.arange(n), w.astype(int))
        yt, yp = y[rep], pred[rep]
        ref = _sklearn_reference(name, yt, yp, None if proba is None else proba[rep], k)
        assert value == pytest.approx(ref, rel=1e-9)


def test_binary_auc_with_ties_equals_sklearn() -> None:
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.4, 0.8, 0.8, 0.8, 0.2, 0.1])
    metric = stats.get_metric("auc")
    rows = metric.encode(y, (s > 0.5).astype(int), np.column_stack([1 - s, s]))
    assert metric.point(rows) == pytest.approx(skm.roc_auc_score(y, s))


# --- probability of improvement, Holm, TOST ----------------------------------------------------


def test_probability_of_improvement_rliable_fixture() -> None:
    x = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
    y = np.array([[1, 1], [2, 2], [3, 3]], dtype=float)
    # by hand: per task, x takes {1, 2, 1, 2} (some order) and y {1, 2, 3}; a 1 beats nothing and
    # ties one 1 (0.5), a 2 beats a 1 and ties a 2 (1.5): (0.5 + 1.5 + 0.5 + 1.5) / 12 = 1/3.
    assert stats.probability_of_improvement(x, y) == pytest.approx(1 / 3)
    assert stats.probability_of_improvement(x, y) == pytest.approx(
        rliable_metrics.probability_of_improvement(x, y)
    )


def test_probability_of_improvement_matches_rliable_on_random_scores() -> None:
    rng = np.random.default_rng(30)
    for _ in range(5):
        x = rng.integers(0, 5, size=(7, 3)).astype(float)
        y = rng.integers(0, 5, size=(4, 3)).astype(float)
        assert stats.probability_of_improvement(x, y) == pytest.approx(
            rliable_metrics.probability_of_improvement(x, y)
        )


def test_probability_of_improvement_interval_contains_estimate() -> None:
    rng = np.random.default_rng(31)
    x, y = rng.normal(0.5, 1, size=(10, 1)), rng.normal(0, 1, size=(10, 1))
    est, low, high = stats.probability_of_improvement_ci(x, y, n_resamples=2000, rng=0)
    assert low <= est <= high
    assert 0.0 <= low < high <= 1.0


def test_holm_matches_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001, 0.04])
    expected = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(stats.holm_bonferroni(p), expected, rtol=1e-12)


def test_tost_paired_matches_statsmodels() -> None:
    rng = np.random.default_rng(40)
    x = rng.normal(0.02, 1, 80)
    y = rng.normal(0.0, 1, 80)
    expected = ttost_paired(x, y, -0.3, 0.3)[0]
    assert stats.tost_paired_t(x, y, -0.3, 0.3) == pytest.approx(expected, rel=1e-9)


def test_tost_from_bootstrap_agrees_with_the_interval() -> None:
    rng = np.random.default_rng(41)
    dist = rng.normal(0.001, 0.004, 20_000)
    low, high = stats.percentile_interval(dist, 0.90)  # the 1 - 2 alpha interval, alpha = 0.05
    for margin in (0.004, 0.006, 0.008, 0.01):
        inside = -margin < low and high < margin
        assert (stats.tost_from_bootstrap(dist, margin) < 0.05) == inside


def test_seeds_needed_behaves() -> None:
    few = stats.seeds_needed(0.0001, 0.0, 0.02)
    many = stats.seeds_needed(0.0004, 0.0, 0.02)
    assert few is not None and many is not None and few < many
    assert stats.seeds_needed(0.0001, 1.0, 0.02) is None  # test set too noisy for any seed count


# --- verdicts and errors -----------------------------------------------------------------------


def test_verdict_vocabulary() -> None:
    V = stats.Verdict
    assert {v.value for v in V} == {
        "better",
        "worse",
        "no detectable difference",
        "equivalent within ±ε",
    }
    assert stats.decide_verdict(0.02, 0.001, higher_is_better=True, alpha=0.05) is V.BETTER
    assert stats.decide_verdict(0.02, 0.001, higher_is_better=False, alpha=0.05) is V.WORSE
    assert (
        stats.decide_verdict(0.001, 0.6, higher_is_better=True, alpha=0.05, tost_p_value=0.01)
        is V.EQUIVALENT
    )
    assert (
        stats.decide_verdict(0.001, 0.6, higher_is_better=True, alpha=0.05, tost_p_value=0.2)
        is V.NO_DETECTABLE_DIFFERENCE
    )


def test_holm_is_applied_and_stated() -> None:
    rng = np.random.default_rng(50)
    n = 3000
    y = rng.integers(0, 2, n)
    base = np.where(rng.random(n) < 0.8, y, 1 - y)
    analyses = [
        stats.analyze_difference(
            _encode("accuracy", y, base, np.where(rng.random(n) < q, y, 1 - y)), rng=0
        )
        for q in (0.8, 0.83, 0.79)
    ]
    adjusted = stats.apply_holm(analyses)
    np.testing.assert_allclose(
        [a.p_value_adjusted for a in adjusted], stats.holm_bonferroni([a.p_value for a in analyses])
    )
    assert all(a.correction == "holm (3 comparisons)" for a in adjusted)


def test_bad_inputs_raise_labline_errors_naming_the_field() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown metric 'bleu'"):
        stats.get_metric("bleu")
    with pytest.raises(InvalidArgumentError, match="needs probabilities"):
        _encode("auc", [0, 1], [0, 1], [1, 1])
    with pytest.raises(InvalidArgumentError, match="y_pred of run 1"):
        _encode("accuracy", [0, 1, 1], [0, 1, 1], [1, 1])
    data = _encode("accuracy", [0, 1, 1], [0, 1, 1], [1, 1, 0])
    with pytest.raises(InvalidArgumentError, match="alpha"):
        stats.analyze_difference(data, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="margin"):
        stats.analyze_difference(data, margin=-0.1)


def test_string_labels_and_given_class_order() -> None:
    y = np.array(["cat", "dog", "dog", "bird"])
    a = np.array(["cat", "dog", "cat", "bird"])
    proba = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1]])
    data = stats.encode_groups(
        stats.get_metric("log_loss"),
        y,
        [stats.Predictions(a, proba)],
        [stats.Predictions(a, proba)],
        classes=["bird", "cat", "dog"],
    )
    expected = skm.log_loss(y, proba, labels=["bird", "cat", "dog"])
    assert data.run_values(data.baseline_columns)[0] == pytest.approx(expected)


def test_probability_columns_follow_integer_labels_even_when_a_class_is_never_seen() -> None:
    y = np.array([0, 2, 2, 0, 2])  # class 1 exists in the model but not in this sample
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2], [0.1, 0.3, 0.6]]
    )
    pred = proba.argmax(1)
    data = _encode("log_loss", y, pred, pred, proba, proba)
    expected = skm.log_loss(y, proba, labels=[0, 1, 2])
    assert data.run_values(data.baseline_columns)[0] == pytest.approx(expected)
    with pytest.raises(InvalidArgumentError, match="not among the classes"):
        stats.encode_groups(
            stats.get_metric("log_loss"),
            ["a", "b", "z", "a", "b"],
            [stats.Predictions(["a"] * 5, proba)],
            [stats.Predictions(["a"] * 5, proba)],
            classes=["a", "b", "c"],
        )
    with pytest.raises(InvalidArgumentError, match="one type"):
        _encode(
            "accuracy", np.array([1, 2], dtype=object), np.array(["a", 2], dtype=object), [1, 2]
        )


# --- fast paths for continuous per-example metrics at scale ------------------------------------


def _as_general_metric(data: stats.EncodedGroups) -> stats.EncodedGroups:
    """The same data with the metric flagged as not per-example: forces the weights path."""
    import dataclasses

    general = dataclasses.replace(data.metric, per_example=False)
    return dataclasses.replace(data, metric=general)


@pytest.mark.parametrize("metric", ["log_loss", "mae", "mse"])
def test_mean_metric_gather_path_reproduces_the_weights_path(metric: str) -> None:
    # continuous per-example values: (nearly) one merged row per example, where the gather path
    # replaces bincount + matrix product; with the same seed it must give the same resamples
    rng = np.random.default_rng(21)
    n = 1500
    if metric == "log_loss":
        y = rng.integers(0, 2, n)
        pa = rng.uniform(0.02, 0.98, n)
        pb = np.clip(pa + rng.normal(0, 0.1, n), 0.02, 0.98)
        data = _encode(
            metric,
            y,
            (pa > 0.5).astype(int),
            (pb > 0.5).astype(int),
            np.column_stack([1 - pa, pa]),
            np.column_stack([1 - pb, pb]),
        )
    else:
        y = rng.normal(size=n)
        data = _encode(metric, y, y + rng.normal(size=n), y + rng.normal(0, 0.9, n))
    assert data.rows.shape[0] * 8 > n  # the index-draw regime
    fast = stats.bootstrap_difference(data, n_resamples=2500, rng=3, max_block_elements=40_000)
    slow = stats.bootstrap_difference(
        _as_general_metric(data), n_resamples=2500, rng=3, max_block_elements=40_000
    )
    assert fast.n_resamples == slow.n_resamples == 2500
    np.testing.assert_allclose(fast.distribution, slow.distribution, rtol=0, atol=1e-12)
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=1e-12)
    assert fast.ci_high == pytest.approx(slow.ci_high, abs=1e-12)
    assert fast.example_variance == pytest.approx(slow.example_variance, rel=1e-9)
    assert fast.estimate == pytest.approx(slow.estimate, abs=1e-15)


def _exact_sign_flip_p(d: np.ndarray) -> float:
    """Two-sided p of mean(d) under all 2**n sign flips (brute force)."""
    n = d.size
    signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1)
    null = (signs * d[None, :]).mean(axis=1)
    obs = d.mean()
    gamma = abs(obs) * np.finfo(float).eps * 100
    return float(min(1.0, 2 * min((null >= obs - gamma).mean(), (null <= obs + gamma).mean())))


def test_permutation_random_swaps_match_exact_sign_flips() -> None:
    # 13 distinct |differences| and one repeated (a merged row of 3): 2**13 * 4 configurations,
    # more than the budget, so the random-swap path (coin lookups + a binomial) is taken
    rng = np.random.default_rng(22)
    y = rng.normal(size=16)
    a = y + rng.normal(0, 1.0, 16)
    b = y + rng.normal(0, 0.6, 16)
    y[13:], a[13:], b[13:] = 1.0, 1.5, 1.1  # three identical examples: one row of count 3
    data = _encode("mae", y, a, b)
    assert (data.counts > 1).any() and (data.counts == 1).any()
    ours = stats.paired_permutation_test(data, n_resamples=20_000, rng=5)
    assert not ours.exact
    exact = _exact_sign_flip_p(np.abs(b - y) - np.abs(a - y))
    assert 0.01 < exact < 0.9
    assert abs(ours.p_value - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-3


def test_permutation_of_a_continuous_metric_stays_within_the_memory_bound() -> None:
    # one binomial per example and resample would hold 20,000 x 5,000 int64 = 800 MB at once
    import tracemalloc

    rng = np.random.default_rng(23)
    n = 20_000
    y = rng.normal(size=n)
    data = _encode("mae", y, y + rng.normal(size=n), y + rng.normal(0, 0.99, n))
    tracemalloc.start()
    try:
        res = stats.paired_permutation_test(data, n_resamples=5_000, rng=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not res.exact and res.n_resamples == 5_000
    assert peak < 64 * 2**20


def test_non_finite_margin_or_min_effect_is_refused() -> None:
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    data = _encode("accuracy", y, y, 1 - y)
    for bad in (float("nan"), float("inf"), 0.0, -1.0):
        with pytest.raises(InvalidArgumentError, match="margin"):
            stats.analyze_difference(data, margin=bad, n_resamples=10, rng=0)
        with pytest.raises(InvalidArgumentError, match="min_effect"):
            stats.analyze_difference(data, min_effect=bad, n_resamples=10, rng=0)
        with pytest.raises(InvalidArgumentError, match="margin"):
            stats.tost_from_bootstrap(np.zeros(5), bad)
        with pytest.raises(InvalidArgumentError, match="min_effect"):
            stats.seeds_needed(1e-4, 1e-5, bad)
        with pytest.raises(InvalidArgumentError, match="margin"):
            stats.analyze_seed_values(
                [0.8, 0.81], [0.82, 0.83], metric="accuracy", higher_is_better=True, margin=bad
            )


@pytest.mark.parametrize("tied", [False, True])
def test_weighted_binary_auc_equals_sklearn_with_and_without_ties(tied: bool) -> None:
    # distinct scores take the path without grouping by score; tied ones group them
    rng = np.random.default_rng(24)
    n = 80
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0.0, 1.0)
    if tied:
        s = np.round(s, 1)
    metric = stats.get_metric("auc")
    rows = metric.encode(y, (s > 0.5).astype(int), np.column_stack([1 - s, s]))
    weights = rng.integers(0, 4, size=(6, n)).astype(float)
    for w, value in zip(weights, metric.evaluate(rows, weights), strict=True):
        rep = np.repeat(np.arange(n), w.astype(int))
        assert value == pytest.approx(skm.roc_auc_score(y[rep], s[rep]), rel=1e-12)
