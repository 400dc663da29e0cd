"""labline.compare on real runs in a real store (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

import labline
from labline import InvalidArgumentError, NotFoundError, Verdict, parse_selector
from labline.core import stats

N = 1500


def _log(
    client: labline.Client,
    model: str,
    seed: int,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    experiment: str = "digits",
    ids: np.ndarray | None = None,
    proba: np.ndarray | None = None,
    tags: dict[str, str] | None = None,
    dataset_data: object = None,
) -> str:
    with labline.start_run(
        experiment,
        params={"model": model, "seed": seed},
        tags=tags,
        client=client,
        capture_env=False,
    ) as run:
        if dataset_data is not None:
            run.log_dataset("test", dataset_data)
        run.log_predictions(
            "test",
            np.arange(len(y)) if ids is None else ids,
            y,
            pred,
            y_proba=proba,
            classes=None if proba is None else list(range(proba.shape[1])),
        )
        return run.id


def _predict(rng: np.random.Generator, y: np.ndarray, accuracy: float) -> np.ndarray:
    return np.where(rng.random(y.size) < accuracy, y, (y + 1 + rng.integers(0, 2, y.size)) % 3)


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 3, N)


def test_paired_accuracy_uses_mcnemar_and_agrees_with_the_statistics_core(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(1)
    a, b = _predict(rng, labels, 0.75), _predict(rng, labels, 0.82)
    _log(client, "logreg", 0, labels, a)
    _log(client, "cnn", 0, labels, b)
    report = labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    comp = report[0]
    assert comp.verdict is Verdict.BETTER
    assert comp.analysis.test == "McNemar exact"
    expected = stats.mcnemar_exact(
        int(((a == labels) & (b != labels)).sum()), int(((a != labels) & (b == labels)).sum())
    )
    assert comp.analysis.p_value == pytest.approx(expected)
    assert comp.analysis.estimate == pytest.approx((b == labels).mean() - (a == labels).mean())
    assert comp.analysis.ci_low < comp.analysis.estimate < comp.analysis.ci_high
    assert report.n_examples == N and report.dataset == "test"
    assert comp.analysis.n_baseline_runs == comp.analysis.n_candidate_runs == 1
    # the same inputs and seed give the same report
    again = labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    assert again.to_dict() == report.to_dict()


def test_several_candidates_are_holm_corrected_and_it_is_stated(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(2)
    _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    _log(client, "cnn", 0, labels, _predict(rng, labels, 0.84))
    _log(client, "rf", 0, labels, _predict(rng, labels, 0.8))
    report = labline.compare(
        "digits:model=logreg",
        ["digits:model=cnn", "digits:model=rf"],
        "macro_f1",
        margin=0.02,
        client=client,
    )
    assert report.correction == "holm (2 comparisons)"
    raw = [c.analysis.p_value for c in report.comparisons]
    np.testing.assert_allclose(
        [c.analysis.p_value_adjusted for c in report.comparisons], stats.holm_bonferroni(raw)
    )
    assert "holm (2 comparisons) correction" in str(report)
    assert report[0].analysis.test.startswith("paired permutation")


def test_seeds_use_the_two_level_bootstrap_and_probability_of_improvement(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(3)
    for seed in range(3):
        _log(client, "logreg", seed, labels, _predict(rng, labels, 0.78))
        _log(client, "cnn", seed, labels, _predict(rng, labels, 0.80))
    report = labline.compare(
        "digits:model=logreg",
        "digits:model=cnn",
        "accuracy",
        min_effect=0.005,
        n_resamples=2000,
        client=client,
    )
    a = report[0].analysis
    assert a.test == "two-level bootstrap (seeds, then examples)"
    assert a.n_baseline_runs == a.n_candidate_runs == 3
    assert a.probability_of_improvement is not None and a.poi_ci is not None
    assert any("only 3 seeds" in n for n in a.notes)


def test_auc_and_log_loss_read_probabilities(client: labline.Client, labels: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    y = (labels > 0).astype(int)
    for model, sharp in (("logreg", 0.2), ("cnn", 0.35)):
        p1 = np.clip(0.5 + sharp * (2 * y - 1) + rng.normal(0, 0.2, N), 0.01, 0.99)
        _log(client, model, 0, y, (p1 > 0.5).astype(int), proba=np.column_stack([1 - p1, p1]))
    auc = labline.compare(
        "digits:model=logreg", "digits:model=cnn", "auc", n_resamples=500, client=client
    )
    loss = labline.compare(
        "digits:model=logreg", "digits:model=cnn", "log_loss", n_resamples=500, client=client
    )
    assert auc[0].verdict is Verdict.BETTER and auc[0].analysis.estimate > 0
    assert loss[0].verdict is Verdict.BETTER and loss[0].analysis.estimate < 0  # lower is better


def test_refuses_different_dataset_fingerprints_saying_which(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(5)
    a = _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    other = labels.copy()
    other[:10] = (other[:10] + 1) % 3  # different true labels: a different data set
    b = _log(client, "cnn", 0, other, _predict(rng, other, 0.8))
    with pytest.raises(InvalidArgumentError, match="fingerprint differs") as info:
        labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    assert a[:8] in str(info.value) and b[:8] in str(info.value)


def test_refuses_different_example_ids_saying_which(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(6)
    table = np.arange(N)  # the same data set content: same fingerprint for both runs
    a = _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8), dataset_data=table)
    b = _log(
        client,
        "cnn",
        0,
        labels,
        _predict(rng, labels, 0.8),
        ids=np.arange(N) + 5,
        dataset_data=table,
    )
    with pytest.raises(InvalidArgumentError, match="example ids differ") as info:
        labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    message = str(info.value)
    assert (
        a[:8] in message
        and b[:8] in message
        and "5 only in the first, 5 only in the second" in message
    )


def test_explicit_run_ids_and_tags_select_runs(client: labline.Client, labels: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    a = _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8), tags={"stage": "final"})
    b = _log(client, "cnn", 0, labels, _predict(rng, labels, 0.8))
    by_id = labline.compare(f"runs:{a}", b, "accuracy", n_resamples=500, client=client)
    by_tag = labline.compare(
        "digits:tag.stage=final", f"runs:{b}", "accuracy", n_resamples=500, client=client
    )
    assert by_id.baseline_runs == (a,) and by_id[0].candidate_runs == (b,)
    assert by_tag.baseline_runs == (a,)
    # run references: a 4-character id prefix, a run name
    by_ref = labline.compare(
        f"runs:{a[:4]}", f"runs:run-{b[:8]}", "accuracy", n_resamples=500, client=client
    )
    assert by_ref.baseline_runs == (a,) and by_ref[0].candidate_runs == (b,)


def test_renders_as_table_json_and_html(client: labline.Client, labels: np.ndarray) -> None:
    rng = np.random.default_rng(8)
    a = _predict(rng, labels, 0.8)
    b = a.copy()
    b[:30] = labels[:30]  # nearly the same model: equivalent within a 0.05 margin
    _log(client, "logreg", 0, labels, a)
    _log(client, "cnn", 0, labels, b)
    report = labline.compare(
        "digits:model=logreg", "digits:model=cnn", "accuracy", margin=0.05, client=client
    )
    text = str(report)
    assert "equivalent" in text and "±0.05" in text and "McNemar exact" in text
    data = json.loads(report.to_json())
    assert data["comparisons"][0]["analysis"]["verdict"] == "equivalent within ±ε"
    assert data["comparisons"][0]["analysis"]["verdict_text"] == "equivalent within ±0.05"
    html = report._repr_html_()
    assert html.count("<tr>") == 2 and "McNemar exact" in html


def test_bad_requests_raise_clear_errors(client: labline.Client, labels: np.ndarray) -> None:
    rng = np.random.default_rng(9)
    _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    with pytest.raises(InvalidArgumentError, match="matches no finished run"):
        labline.compare("digits:model=logreg", "digits:model=nothing", "accuracy", client=client)
    with pytest.raises(NotFoundError):
        labline.compare("nosuch:model=a", "digits:model=logreg", "accuracy", client=client)
    _log(client, "cnn", 0, labels, _predict(rng, labels, 0.8))
    with pytest.raises(InvalidArgumentError, match="no logged metric 'bleu'"):
        labline.compare("digits:model=logreg", "digits:model=cnn", "bleu", client=client)
    with pytest.raises(InvalidArgumentError, match="no predictions on dataset 'valid'"):
        labline.compare(
            "digits:model=logreg", "digits:model=cnn", "accuracy", dataset="valid", client=client
        )


def test_selector_grammar() -> None:
    sel = parse_selector("digits:model=logreg, lr=0.1,tag.stage=final")
    assert sel.experiment == "digits" and dict(sel.params) == {"model": "logreg", "lr": "0.1"}
    assert dict(sel.tags) == {"stage": "final"}
    ids = "0" * 32 + "," + "a" * 32
    assert parse_selector(ids).run_ids == ("0" * 32, "a" * 32)
    assert parse_selector("runs:" + "b" * 32).run_ids == ("b" * 32,)
    assert parse_selector("digits").experiment == "digits"
    assert parse_selector("runs:1a2b, baseline").run_ids == ("1a2b", "baseline")  # references
    for bad in ("", "digits:model", ":a=b", "runs:", "runs: , "):
        with pytest.raises(InvalidArgumentError):
            parse_selector(bad)


def test_without_predictions_logged_metrics_are_compared_over_seeds(client: labline.Client) -> None:
    rng = np.random.default_rng(10)
    base, cand = 0.80 + rng.normal(0, 0.01, 5), 0.83 + rng.normal(0, 0.01, 5)
    for model, values in (("logreg", base), ("cnn", cand)):
        for seed, v in enumerate(values):
            with labline.start_run(
                "mnist", params={"model": model, "seed": seed}, client=client, capture_env=False
            ) as run:
                run.log_metric("accuracy", float(v))
    report = labline.compare("mnist:model=logreg", "mnist:model=cnn", "accuracy", client=client)
    a = report[0].analysis
    # the same seeds ran in both groups: paired; 5 pairs are too few for the sign-flip test
    ref = sps.ttest_rel(cand, base)
    assert a.test == "run-level paired t-test" and a.paired_by_seed
    assert a.p_value == pytest.approx(ref.pvalue) and a.verdict is Verdict.BETTER
    assert a.cross_checks[0].p_value == pytest.approx(1 / 16)
    assert report.n_examples == 0 and "run-level comparison" in str(report)
    assert a.probability_of_improvement == pytest.approx(
        stats.probability_of_improvement(cand, base)
    )


def test_options_are_checked_before_loading_and_name_the_field(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(11)
    _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    _log(client, "cnn", 0, labels, _predict(rng, labels, 0.8))
    args = ("digits:model=logreg", "digits:model=cnn", "log_loss")  # no proba: would fail later
    bad: list[tuple[dict[str, object], str]] = [
        ({"margin": float("nan")}, "margin"),  # was accepted: "equivalent within ±nan"
        ({"margin": float("inf")}, "margin"),
        ({"margin": -0.1}, "margin"),
        ({"min_effect": float("nan")}, "min_effect"),  # was a ValueError from math.ceil
        ({"alpha": float("nan")}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"n_resamples": 0}, "n_resamples"),
        ({"n_resamples": 2.5}, "n_resamples"),  # was a TypeError
        ({"seed": -1}, "seed"),  # was numpy's ValueError
    ]
    for kwargs, field in bad:
        with pytest.raises(InvalidArgumentError, match=field):
            labline.compare(*args, client=client, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="metric"):
        labline.compare("digits:model=logreg", "digits:model=cnn", None, client=client)  # type: ignore[arg-type]


def test_unfinished_runs_are_named_not_silently_dropped(
    client: labline.Client, labels: np.ndarray
) -> None:
    rng = np.random.default_rng(12)
    done = _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    with (
        pytest.raises(RuntimeError),
        labline.start_run(
            "digits", params={"model": "cnn"}, client=client, capture_env=False
        ) as failed,
    ):
        raise RuntimeError("training crashed")
    with pytest.raises(InvalidArgumentError, match=r"no finished run \(.*failed 1"):
        labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    with (
        labline.start_run(
            "digits", params={"model": "mlp"}, client=client, capture_env=False
        ) as live,
        pytest.raises(InvalidArgumentError, match=f"run {live.id[:8]} .* is running"),
    ):
        labline.compare(f"runs:{done}", f"runs:{live.id}", "accuracy", client=client)
    with pytest.raises(InvalidArgumentError, match=f"run {failed.id[:8]} .* is failed"):
        labline.compare(f"runs:{done}", f"runs:{done},{failed.id}", "accuracy", client=client)


def test_a_run_on_both_sides_is_refused(client: labline.Client, labels: np.ndarray) -> None:
    rng = np.random.default_rng(13)
    base = _log(client, "logreg", 0, labels, _predict(rng, labels, 0.8))
    _log(client, "cnn", 0, labels, _predict(rng, labels, 0.85))
    with pytest.raises(InvalidArgumentError, match=f"both select run {base[:8]}"):
        labline.compare("digits:model=logreg", "digits", "accuracy", client=client)
    with pytest.raises(InvalidArgumentError, match="both select run"):
        labline.compare(f"runs:{base}", f"runs:{base}", "accuracy", client=client)
