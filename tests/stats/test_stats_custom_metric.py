"""Custom per-example metrics (labline.Metric) recomputed on every resample, against built-ins."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss

from labline import InvalidArgumentError, Metric
from labline.core import stats

N = 3_000


def _numpy_macro_f1(y_true, y_pred, sample_weight=None) -> float:
    w = np.ones(y_true.size) if sample_weight is None else sample_weight
    f1 = []
    for k in np.union1d(y_true, y_pred):
        tp = w[(y_true == k) & (y_pred == k)].sum()
        f1.append(2 * tp / (w[y_true == k].sum() + w[y_pred == k].sum()))
    return float(np.mean(f1))


def _repeated_macro_f1(y_true, y_pred) -> float:
    return _numpy_macro_f1(y_true, y_pred)


def _vectorized_macro_f1(y_true, y_pred, sample_weight):
    f1 = []
    for k in np.union1d(y_true, y_pred):
        tp = sample_weight @ ((y_true == k) & (y_pred == k))
        f1.append(2 * tp / (sample_weight @ (y_true == k) + sample_weight @ (y_pred == k)))
    return np.mean(f1, axis=0)


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    a = np.where(rng.random(N) < 0.75, y, rng.integers(0, 3, N))
    b = np.where(rng.random(N) < 0.80, y, rng.integers(0, 3, N))
    return y, a, b


@pytest.mark.parametrize(
    "metric",
    [
        Metric("f1_weighted_calls", _numpy_macro_f1),
        Metric("f1_repeated_rows", _repeated_macro_f1),
        Metric("f1_vectorized", _vectorized_macro_f1, vectorized=True),
    ],
    ids=["sample_weight", "repeated", "vectorized"],
)
def test_every_calling_convention_reproduces_the_builtin_resample_by_resample(
    metric: Metric, predictions
) -> None:
    """Same rows, same draws: a custom macro-F1 gives the built-in's bootstrap and permutation."""
    y, a, b = predictions
    builtin = stats.encode_groups(
        stats.get_metric("macro_f1"), y, [stats.Predictions(a)], [stats.Predictions(b)]
    )
    custom = stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])
    ref = stats.bootstrap_difference(builtin, n_resamples=300, rng=1)
    got = stats.bootstrap_difference(custom, n_resamples=300, rng=1)
    assert got.estimate == pytest.approx(
        f1_score(y, b, average="macro") - f1_score(y, a, average="macro")
    )
    np.testing.assert_allclose(got.distribution, ref.distribution, rtol=1e-10, atol=1e-12)
    ref_p = stats.paired_permutation_test(builtin, n_resamples=300, rng=2)
    got_p = stats.paired_permutation_test(custom, n_resamples=300, rng=2)
    assert got_p.p_value == pytest.approx(ref_p.p_value)


def test_proba_reaches_fn_when_every_run_has_it(predictions) -> None:
    y, a, b = predictions
    rng = np.random.default_rng(3)
    proba_a = rng.dirichlet(np.ones(3), N)
    proba_b = rng.dirichlet(np.ones(3), N)

    def my_log_loss(y_true, y_pred, proba=None, sample_weight=None) -> float:
        return float(log_loss(y_true, proba, labels=[0, 1, 2], sample_weight=sample_weight))

    metric = Metric("my_log_loss", my_log_loss, needs_proba=True)
    assert not metric.higher_is_better  # "loss" in the name
    data = stats.encode_groups(
        metric, y, [stats.Predictions(a, proba_a)], [stats.Predictions(b, proba_b)]
    )
    analysis = stats.analyze_difference(data, n_resamples=200, n_permutations=200, rng=0)
    builtin = stats.encode_groups(
        stats.get_metric("log_loss"),
        y,
        [stats.Predictions(a, proba_a)],
        [stats.Predictions(b, proba_b)],
    )
    assert analysis.estimate == pytest.approx(
        stats.analyze_difference(builtin, n_resamples=10, rng=0).estimate
    )
    with pytest.raises(InvalidArgumentError, match="'my_log_loss' needs probabilities"):
        stats.encode_groups(metric, y, [stats.Predictions(a, proba_a)], [stats.Predictions(b)])

    seen = []

    def records_proba(y_true, y_pred, proba=None) -> float:
        seen.append(proba is None)
        return float(np.mean(y_true == y_pred))

    stats.encode_groups(
        Metric("acc_p", records_proba), y, [stats.Predictions(a, proba_a)], [stats.Predictions(b)]
    )
    assert seen and all(seen)  # one run without probabilities: no run's proba is passed


def test_vectorized_fn_must_return_one_value_per_resample(predictions) -> None:
    y, a, b = predictions
    with pytest.raises(InvalidArgumentError, match="must take sample_weight"):
        Metric("v", lambda y_true, y_pred: 0.5, vectorized=True)
    metric = Metric("v", lambda y_true, y_pred, sample_weight: 0.5, vectorized=True)
    with pytest.raises(InvalidArgumentError, match=r"metric 'v' is vectorized.*\(1,\)"):
        stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])


def test_metric_options_are_checked_naming_the_metric() -> None:
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        Metric("", _numpy_macro_f1)
    with pytest.raises(InvalidArgumentError, match="'m': higher_is_better must be True or False"):
        Metric("m", _numpy_macro_f1, higher_is_better="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="needs_proba, but fn takes no proba"):
        Metric("m", _numpy_macro_f1, needs_proba=True)
    assert Metric("m", max).fn is max  # no signature to read: called with (y_true, y_pred)


def test_a_custom_metric_survives_dataclasses_replace(predictions) -> None:
    import dataclasses

    y, a, b = predictions
    metric = dataclasses.replace(Metric("f1", _numpy_macro_f1), higher_is_better=False)
    assert not metric.higher_is_better and metric.fn is _numpy_macro_f1
    data = stats.encode_groups(metric, y, [stats.Predictions(a)], [stats.Predictions(b)])
    assert data.run_values(data.baseline_columns)[0] == pytest.approx(
        f1_score(y, a, average="macro")
    )
