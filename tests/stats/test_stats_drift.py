"""Drift statistics against scipy, statsmodels and sklearn, and their guarantees by seeded
simulation (false alarms after Holm, power, the label-free accuracy estimate)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import accuracy_score
from statsmodels.stats.multitest import multipletests

from labline import IntegrityError, InvalidArgumentError
from labline.core import ReferenceProfile, build_profile, feature_columns, stats
from labline.core._profile import SKETCH_POINTS, sketch_categorical, sketch_numeric


def test_ks_matches_scipy_when_the_reference_keeps_its_values() -> None:
    rng = np.random.default_rng(1)
    for shift, n_ref, n_live in [(0.0, 300, 700), (0.4, 512, 100), (1.0, 50, 5000)]:
        ref = rng.normal(size=n_ref)
        live = rng.normal(shift, 1.0, size=n_live)
        sketch = sketch_numeric("x", ref)
        assert sketch.exact
        d, p = stats.ks_two_sample(sketch, live)
        want = sps.ks_2samp(ref, live, method="asymp")
        assert d == pytest.approx(want.statistic, abs=1e-12)
        assert p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


def test_ks_from_a_quantile_sketch_is_within_its_resolution() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=50_000)
    live = rng.normal(0.05, 1.1, size=2_000)
    sketch = sketch_numeric("x", ref)
    assert not sketch.exact and len(sketch.points) == SKETCH_POINTS
    d, p = stats.ks_two_sample(sketch, live)
    want = sps.ks_2samp(ref, live, method="asymp")
    assert abs(d - want.statistic) <= 1.0 / SKETCH_POINTS + 1.0 / 2_000
    # the p-value uses the reference's true size
    assert p == pytest.approx(float(sps.kstwo.sf(d, round(50_000 * 2_000 / 52_000))))


def test_ks_from_a_sketch_of_tied_values_is_within_its_resolution() -> None:
    """Counts and image pixels repeat a few values (most pixels are 0): the sketch's CDF
    jumps there, and a window from the same distribution does not look drifted."""
    rng = np.random.default_rng(7)
    for ref, live in [
        (rng.poisson(0.3, 5_000).astype(float), rng.poisson(0.3, 300).astype(float)),
        (np.where(rng.random(719) < 0.97, 0.0, rng.integers(1, 6, 719)), None),
        (rng.integers(0, 17, 3_000).astype(float), rng.integers(0, 17, 1_000).astype(float)),
    ]:
        if live is None:  # the window is part of the reference itself
            live = ref[:300]
        sketch = sketch_numeric("x", ref)
        assert not sketch.exact
        d, p = stats.ks_two_sample(sketch, live)
        want = sps.ks_2samp(ref, live, method="asymp")
        assert abs(d - want.statistic) <= 1.0 / SKETCH_POINTS
        assert p > 0.05
    # and a real shift among tied values is still seen
    ref = rng.poisson(0.3, 5_000).astype(float)
    d, p = stats.ks_two_sample(sketch_numeric("x", ref), rng.poisson(0.6, 1_000).astype(float))
    want = sps.ks_2samp(ref, rng.poisson(0.6, 1_000).astype(float), method="asymp")
    assert p < 1e-6 and abs(d - want.statistic) < 0.05


def test_the_sketch_cdf_jumps_at_tied_values() -> None:
    sketch = sketch_numeric("x", np.repeat([0.0, 1.0, 2.0], [6_000, 3_000, 1_000]))
    below, at = sketch.cdf_limits(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0]))
    assert at[0] == 0 and below[1] == 0
    assert at[1] == pytest.approx(0.6, abs=1 / SKETCH_POINTS)
    assert at[3] == pytest.approx(0.9, abs=1 / SKETCH_POINTS)
    assert below[3] == pytest.approx(0.6, abs=1 / SKETCH_POINTS)
    assert at[5] == 1.0 and np.all(np.diff(at) >= 0) and np.all(below <= at)
    assert np.array_equal(sketch.cdf(np.array([0.0, 1.0])), at[[1, 3]])


def test_chi_squared_matches_scipy_contingency() -> None:
    rng = np.random.default_rng(3)
    ref = rng.choice(["a", "b", "c", "d"], size=400, p=[0.4, 0.3, 0.2, 0.1])
    live = rng.choice(["a", "b", "c", "e"], size=300, p=[0.25, 0.25, 0.25, 0.25])
    sketch = sketch_categorical("c", ref, max_categories=3)
    assert sketch.categories == ("a", "b", "c") and sketch.other == int((ref == "d").sum())
    result = stats.feature_drift(sketch, live)
    # the same table scipy sees: the three kept categories and "other"
    table = np.array(
        [
            [*(int((ref == k).sum()) for k in "abc"), int((ref == "d").sum())],
            [*(int((live == k).sum()) for k in "abc"), int((live == "e").sum())],
        ]
    )
    want = sps.chi2_contingency(table, correction=False)
    assert result.test == "chi2"
    assert result.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert stats.chi2_two_sample([5, 0, 3], [2, 0, 9]) == pytest.approx(
        tuple(sps.chi2_contingency(np.array([[5, 3], [2, 9]]), correction=False)[:2])
    )
    assert stats.chi2_two_sample([5], [7]) == (0.0, 1.0)


def test_few_distinct_numbers_are_categorical_and_strings_keep_their_spelling() -> None:
    rng = np.random.default_rng(4)
    profile = build_profile(
        {"small": rng.integers(0, 5, size=200), "wide": rng.normal(size=200)},
        rng.integers(0, 2, size=200),
        classes=(0, 1),
    )
    kinds = {f.name: f.kind for f in profile.features}
    assert kinds == {"small": "categorical", "wide": "numeric"}
    # live 1.0 and 1 are one category
    live = stats.feature_drift(profile.feature("small"), np.array([1.0, 2.0, 3.0, 1.0]))
    assert live.n_live == 4


def test_psi_and_jensen_shannon_against_their_definitions() -> None:
    ref, live = np.array([10, 20, 30, 40]), np.array([25, 25, 25, 25])
    assert stats.jensen_shannon_distance(ref, live) == pytest.approx(
        float(jensenshannon(ref, live, base=2))
    )
    e, a = ref / ref.sum(), live / live.sum()
    assert stats.population_stability_index(ref, live) == pytest.approx(
        float(np.sum((a - e) * np.log(a / e)))
    )
    assert stats.jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert stats.population_stability_index(ref, ref) == 0.0


def test_holm_across_features_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    cols = {f"x{i}": rng.normal(size=300) for i in range(6)}
    profile = build_profile(cols, np.zeros(300))
    live = {f"x{i}": rng.normal(0.08 * i, 1.0, size=400) for i in range(6)}
    report = stats.drift_report(profile, live, alpha=0.05)
    raw = [f.p_value for f in report.features]
    reject, adjusted, _, _ = multipletests(raw, alpha=0.05, method="holm")
    assert [f.adjusted_p_value for f in report.features] == pytest.approx(list(adjusted))
    assert [f.drifted for f in report.features] == list(reject)
    assert report.drifted_share == pytest.approx(float(np.mean(reject)))


def test_tensor_fields_become_one_feature_per_column_and_the_cap_is_counted() -> None:
    features, skipped = feature_columns({"input": np.zeros((3, 4)), "z": np.ones(3)}, 3)
    assert list(features) == ["input[0]", "input[1]", "input[2]"]
    assert skipped == 2


def test_estimated_accuracy_of_a_calibrated_model_matches_sklearn_on_simulated_labels() -> None:
    rng = np.random.default_rng(6)
    errors = []
    covered = 0
    for _ in range(200):
        n = 1000
        conf = rng.beta(5, 2, size=n)  # calibrated: right with exactly this probability
        correct = rng.random(n) < conf
        y_pred = rng.integers(0, 3, size=n)
        y_true = np.where(correct, y_pred, (y_pred + 1) % 3)
        est = stats.estimate_accuracy(conf)
        assert est is not None
        truth = accuracy_score(y_true, y_pred)
        errors.append(abs(est.value - truth))
        covered += est.ci_low <= truth <= est.ci_high
    assert np.mean(errors) <= 0.02
    assert 0.92 <= covered / 200 <= 0.99  # a 95% interval


def test_prediction_confidence_and_accuracy_in_the_report() -> None:
    rng = np.random.default_rng(7)
    classes = ("cat", "dog")
    proba_ref = rng.dirichlet([2, 2], size=500)
    preds_ref = np.array(classes)[proba_ref.argmax(axis=1)]
    profile = build_profile(
        {"x": rng.normal(size=500)},
        preds_ref,
        proba_ref,
        classes=classes,
        labels=preds_ref,
    )
    assert profile.accuracy == 1.0
    assert profile.expected_accuracy == pytest.approx(float(proba_ref.max(axis=1).mean()))
    # live: the model became sure of "dog"
    proba = np.column_stack([np.full(400, 0.05), np.full(400, 0.95)])
    preds = np.array(["dog"] * 400)
    report = stats.drift_report(
        profile, {"x": rng.normal(size=400)}, predictions=preds, proba=proba, classes=classes
    )
    assert report.predictions is not None and report.predictions.drifted
    assert report.confidence is not None and report.confidence.drifted
    assert report.accuracy is not None
    assert report.accuracy.value == pytest.approx(0.95)
    assert report.accuracy.reference == profile.expected_accuracy
    assert report.drifted == ()


def test_false_alarms_after_holm_stay_at_alpha_and_power_at_half_sigma() -> None:
    """No shift: at most 5% of windows raise any alarm (7 features, Holm); a 0.5σ mean shift of
    one feature is found in at least 80% of windows of 1,000 rows."""
    rng = np.random.default_rng(8)

    def sample(n: int, shift: float) -> dict[str, np.ndarray]:
        cols = {f"x{i}": rng.normal(size=n) for i in range(5)}
        cols["x0"] = cols["x0"] + shift
        cols["c0"] = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
        cols["c1"] = rng.integers(0, 4, size=n)
        return cols

    trials = 600
    alarms = found = 0
    for _ in range(trials):
        profile = build_profile(sample(1000, 0.0), np.zeros(1000))
        alarms += bool(stats.drift_report(profile, sample(1000, 0.0)).drifted)
        found += "x0" in stats.drift_report(profile, sample(1000, 0.5)).drifted
    # Holm keeps the family-wise error at 0.05 (7 independent tests: 1 - (1 - 0.05/7)^7 = 0.049);
    # the bound allows two binomial standard errors of the estimate over 600 windows
    assert alarms / trials <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / trials)
    assert found / trials >= 0.8


def test_profile_round_trips_and_refuses_garbage() -> None:
    rng = np.random.default_rng(9)
    profile = build_profile(
        {"x": rng.normal(size=50), "s": rng.choice(["u", "v"], size=50)},
        rng.normal(size=50),
    )
    again = ReferenceProfile.from_bytes(profile.to_bytes())
    assert again == profile
    assert again.predictions is not None and again.predictions.kind == "numeric"
    with pytest.raises(IntegrityError):
        ReferenceProfile.from_bytes(b"[1, 2]")
    with pytest.raises(IntegrityError):
        ReferenceProfile.from_bytes(b'{"format_version": 1}')
    with pytest.raises(InvalidArgumentError):
        stats.drift_report(profile, {}, alpha=1.5)
