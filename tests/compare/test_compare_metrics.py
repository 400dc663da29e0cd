"""compare on any metric: logged metrics at run level, custom per-example metrics (both backends)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import f1_score

import labline
from labline import InvalidArgumentError, Verdict

N = 600


def _log_values(
    client: labline.Client,
    model: str,
    seed: int,
    series: list[float],
    *,
    key: str = "val_accuracy",
    experiment: str = "mnist",
) -> str:
    with labline.start_run(
        experiment, params={"model": model, "seed": seed}, client=client, capture_env=False
    ) as run:
        for step, value in enumerate(series):
            run.log_metric(key, value, step=step)
        return run.id


def _log_predictions(
    client: labline.Client, model: str, y: np.ndarray, pred: np.ndarray, seed: int = 0
) -> str:
    with labline.start_run(
        "digits", params={"model": model, "seed": seed}, client=client, capture_env=False
    ) as run:
        run.log_predictions("test", np.arange(len(y)), y, pred)
        return run.id


def _weighted_f1(y_true, y_pred, sample_weight=None) -> float:
    return float(f1_score(y_true, y_pred, average="weighted", sample_weight=sample_weight))


def _predict(rng: np.random.Generator, y: np.ndarray, accuracy: float) -> np.ndarray:
    return np.where(rng.random(y.size) < accuracy, y, (y + 1 + rng.integers(0, 2, y.size)) % 3)


def test_logged_metric_is_compared_at_run_level_paired_by_seed(client: labline.Client) -> None:
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 0.03, 8)
    base = 0.80 + seed_effect + rng.normal(0, 0.002, 8)
    cand = 0.81 + seed_effect + rng.normal(0, 0.002, 8)
    for seed in range(8):
        # the last value is the final one; the max is a better one earlier in the series
        _log_values(client, "logreg", seed, [base[seed] - 0.1, base[seed] + 0.05, base[seed]])
        _log_values(client, "cnn", seed, [cand[seed] - 0.1, cand[seed] + 0.01, cand[seed]])
    report = labline.compare("mnist:model=logreg", "mnist:model=cnn", "val_accuracy", client=client)
    a = report[0].analysis
    assert report.level == "run" and a.level == "run" and a.paired_by_seed
    assert report.metric == "val_accuracy" and report.higher_is_better
    assert a.estimate == pytest.approx(float(np.mean(cand - base)))
    assert a.test == "run-level paired permutation over seeds (exact)"
    assert a.verdict is Verdict.BETTER
    assert a.cross_checks[0].p_value == pytest.approx(sps.ttest_rel(cand, base).pvalue)
    # unpaired, the seed effect (sd 0.03) would swamp the 0.01 difference
    assert a.ci_high - a.ci_low < 0.01

    best = labline.compare(
        "mnist:model=logreg", "mnist:model=cnn", "val_accuracy:max", client=client
    )[0].analysis
    assert best.metric == "val_accuracy:max"
    assert best.estimate == pytest.approx(float(np.mean((cand + 0.01) - (base + 0.05))))
    assert best.verdict is Verdict.WORSE
    lowest = labline.compare(
        "mnist:model=logreg", "mnist:model=cnn", "val_accuracy:min", client=client
    )[0].analysis
    assert lowest.estimate == pytest.approx(float(np.mean(cand - base)))


def test_run_level_report_says_so_in_table_json_and_html(client: labline.Client) -> None:
    for seed, (b, c) in enumerate([(0.80, 0.82), (0.81, 0.84), (0.79, 0.81)]):
        _log_values(client, "logreg", seed, [b])
        _log_values(client, "cnn", seed + 100, [c])  # other seeds: unpaired
    report = labline.compare("mnist:model=logreg", "mnist:model=cnn", "val_accuracy", client=client)
    a = report[0].analysis
    assert not a.paired_by_seed and a.test == "run-level Welch t-test"
    assert a.p_value == pytest.approx(
        sps.ttest_ind([0.82, 0.84, 0.81], [0.80, 0.81, 0.79], equal_var=False).pvalue
    )
    text = str(report)
    assert "run-level comparison" in text and "runs are the units" in text
    assert "low power: only 3 runs" in text and "cannot reach p < 0.05" in text
    data = json.loads(report.to_json())
    assert data["level"] == "run" and data["comparisons"][0]["analysis"]["level"] == "run"
    assert data["comparisons"][0]["analysis"]["cross_checks"][0]["test"] == (
        "permutation over runs (exact)"
    )
    html = report._repr_html_()
    assert "run-level comparison" in html and "low power" in html


def test_direction_from_the_name_or_the_option(client: labline.Client) -> None:
    for seed in range(6):
        _log_values(client, "logreg", seed, [0.50 + 0.01 * seed], key="val_loss")
        _log_values(client, "cnn", seed, [0.40 + 0.01 * seed], key="val_loss")
    report = labline.compare("mnist:model=logreg", "mnist:model=cnn", "val_loss", client=client)
    assert not report.higher_is_better and report[0].verdict is Verdict.BETTER
    flipped = labline.compare(
        "mnist:model=logreg",
        "mnist:model=cnn",
        "val_loss",
        higher_is_better=True,
        client=client,
    )
    assert flipped.higher_is_better and flipped[0].verdict is Verdict.WORSE


def test_builtin_metric_without_predictions_falls_back_to_run_level(
    client: labline.Client,
) -> None:
    rng = np.random.default_rng(1)
    base, cand = 0.80 + rng.normal(0, 0.01, 6), 0.83 + rng.normal(0, 0.01, 6)
    for seed in range(6):
        _log_values(client, "logreg", seed, [float(base[seed])], key="accuracy")
        _log_values(client, "cnn", seed + 10, [float(cand[seed])], key="accuracy")
    report = labline.compare("mnist:model=logreg", "mnist:model=cnn", "accuracy", client=client)
    a = report[0].analysis
    assert report.level == "run" and a.test == "run-level permutation over runs (exact)"
    ref = sps.permutation_test(
        (base, cand),
        lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        vectorized=True,
    )
    assert a.p_value == pytest.approx(ref.pvalue) and a.verdict is Verdict.BETTER


def test_logged_metric_errors_name_the_run_and_the_option(client: labline.Client) -> None:
    _log_values(client, "logreg", 0, [0.8])
    _log_values(client, "logreg", 1, [0.8])
    run = _log_values(client, "cnn", 0, [0.8], key="other")
    single = _log_values(client, "cnn", 1, [0.8])
    with pytest.raises(InvalidArgumentError, match=f"run {run[:8]} .* no logged metric 'val_acc"):
        labline.compare("mnist:model=logreg", "mnist:model=cnn", "val_accuracy", client=client)
    with pytest.raises(InvalidArgumentError, match="dataset"):
        labline.compare(
            "mnist:model=logreg", "mnist:model=cnn", "val_accuracy", dataset="t", client=client
        )
    with pytest.raises(InvalidArgumentError, match="at least 2 runs per group"):
        labline.compare("mnist:model=logreg", f"runs:{single}", "val_accuracy", client=client)
    with pytest.raises(InvalidArgumentError, match="after ':' comes last, min or max"):
        labline.compare("mnist:model=logreg", "mnist:model=cnn", "val_accuracy:best", client=client)


def test_custom_metric_is_recomputed_on_every_resample(client: labline.Client) -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, N)
    pred_a, pred_b = _predict(rng, y, 0.70), _predict(rng, y, 0.85)
    _log_predictions(client, "logreg", y, pred_a)
    _log_predictions(client, "cnn", y, pred_b)
    calls = []

    def weighted_f1(y_true, y_pred, sample_weight=None):
        calls.append(len(y_true))
        return _weighted_f1(y_true, y_pred, sample_weight)

    metric = labline.Metric("weighted_f1", weighted_f1, higher_is_better=True)
    report = labline.compare(
        "digits:model=logreg", "digits:model=cnn", metric=metric, n_resamples=300, client=client
    )
    a = report[0].analysis
    assert report.metric == "weighted_f1" and report.level == "example"
    assert a.estimate == pytest.approx(_weighted_f1(y, pred_b) - _weighted_f1(y, pred_a))
    assert a.verdict is Verdict.BETTER and a.test.startswith("paired permutation")
    # two runs x (300 bootstrap + 300 permutation resamples), plus the first-use checks
    assert len(calls) >= 2 * 600
    # an independent paired bootstrap of the same function on the raw examples
    draws = np.random.default_rng(3).integers(0, N, size=(300, N))
    ref = [_weighted_f1(y[i], pred_b[i]) - _weighted_f1(y[i], pred_a[i]) for i in draws]
    low, high = np.quantile(ref, [0.025, 0.975])
    width = high - low
    assert a.ci_low == pytest.approx(low, abs=0.2 * width)
    assert a.ci_high == pytest.approx(high, abs=0.2 * width)


def test_custom_metric_without_sample_weight_and_with_string_labels(
    client: labline.Client,
) -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 3, N)
    names = np.array(["cat", "dog", "emu"])
    y = names[codes]
    _log_predictions(client, "logreg", y, names[_predict(rng, codes, 0.7)])
    _log_predictions(client, "cnn", y, names[_predict(rng, codes, 0.7)])
    seen: set[str] = set()

    def cat_recall(y_true, y_pred):  # no sample_weight: resamples repeat the examples
        seen.update(map(str, np.unique(y_true)))
        is_cat = y_true == "cat"
        return float(np.mean(y_pred[is_cat] == "cat"))

    report = labline.compare(
        "digits:model=logreg",
        "digits:model=cnn",
        labline.Metric("cat_recall", cat_recall),
        n_resamples=200,
        client=client,
    )
    assert seen == {"cat", "dog", "emu"}
    assert report.higher_is_better and np.isfinite(report[0].analysis.ci_low)
    assert report[0].analysis.ci_low < report[0].analysis.estimate < report[0].analysis.ci_high


def test_custom_metric_is_validated_on_first_use(client: labline.Client) -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, N)
    _log_predictions(client, "logreg", y, _predict(rng, y, 0.7))
    _log_predictions(client, "cnn", y, _predict(rng, y, 0.8))
    args = ("digits:model=logreg", "digits:model=cnn")
    bad = [
        (lambda y_true, y_pred: float("nan"), "must return a finite scalar, got nan"),
        (lambda y_true, y_pred: np.ones(3), r"finite scalar, got an array of shape \(3,\)"),
        (lambda y_true, y_pred: "high", "finite scalar, got str"),
        (lambda y_true, y_pred: 1 / 0, "raised ZeroDivisionError"),
        (lambda y_true, y_pred, sample_weight=None: 0.5 + y_true.size / 1e6, "repetition"),
    ]
    for fn, message in bad:
        with pytest.raises(InvalidArgumentError, match=f"metric 'broken'.*{message}"):
            labline.compare(*args, labline.Metric("broken", fn), n_resamples=50, client=client)
    with pytest.raises(InvalidArgumentError, match="built-in metric"):
        labline.Metric("accuracy", _weighted_f1)
    with pytest.raises(InvalidArgumentError, match="fn must be a function"):
        labline.Metric("weighted_f1", None)


def test_custom_metric_needs_shared_predictions(client: labline.Client) -> None:
    for seed in range(2):
        _log_values(client, "logreg", seed, [0.8])
        _log_values(client, "cnn", seed, [0.9])
    with pytest.raises(InvalidArgumentError, match="share no data set of predictions"):
        labline.compare(
            "mnist:model=logreg",
            "mnist:model=cnn",
            labline.Metric("weighted_f1", _weighted_f1),
            client=client,
        )


def test_metric_names_imply_a_direction() -> None:
    from labline.core.stats import higher_is_better_by_name

    for name in ("val_loss", "train-error", "mae", "rmse", "val_mse", "NLL", "testLoss", "wer"):
        assert not higher_is_better_by_name(name), name
    for name in ("val_accuracy", "f1", "auc", "reward", "bleu", "mean_iou"):
        assert higher_is_better_by_name(name), name
    assert not labline.Metric("val_loss", _weighted_f1).higher_is_better
    assert labline.Metric("val_loss", _weighted_f1, higher_is_better=True).higher_is_better
