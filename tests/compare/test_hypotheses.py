"""Hypotheses registered before results: store contract (both backends) and service life cycle."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import labline
from labline import HypothesisStatus, ImmutableError, InvalidArgumentError, NotFoundError
from labline.store.sql import SQLStore

N = 1200


def _add(store: SQLStore, **over: object) -> labline.Hypothesis:
    fields: dict[str, object] = {
        "statement": "cnn beats logreg by a point",
        "baseline": "digits:model=logreg",
        "candidate": "digits:model=cnn",
        "metric": "accuracy",
        "dataset": None,
        "min_effect": 0.01,
        "alpha": 0.05,
        "seeds": 1,
    }
    fields.update(over)
    return store.add_hypothesis(**fields)  # type: ignore[arg-type]


# --- store contract --------------------------------------------------------------------------


def test_store_adds_lists_and_gets(store: SQLStore) -> None:
    h = _add(store)
    assert h.status is HypothesisStatus.WAITING and h.result == {} and h.evaluated_at is None
    assert store.get_hypothesis(h.id) == h
    second = _add(store, metric="macro_f1", supersedes=h.id)
    assert [x.id for x in store.list_hypotheses()] == [h.id, second.id]
    assert second.supersedes == h.id


def test_store_records_a_result_once(store: SQLStore) -> None:
    h = _add(store)
    done = store.record_hypothesis_result(h.id, HypothesisStatus.SUPPORTED, {"estimate": 0.02})
    assert done.status is HypothesisStatus.SUPPORTED and done.result == {"estimate": 0.02}
    assert done.evaluated_at is not None
    with pytest.raises(ImmutableError, match="already evaluated"):
        store.record_hypothesis_result(h.id, HypothesisStatus.REFUTED, {})
    assert store.get_hypothesis(h.id).status is HypothesisStatus.SUPPORTED


def test_store_concurrent_evaluations_only_one_wins(store: SQLStore) -> None:
    h = _add(store)
    outcomes: list[str] = []
    lock = threading.Lock()

    def evaluate(status: HypothesisStatus) -> None:
        try:
            store.record_hypothesis_result(h.id, status, {"by": status.value})
            result = "won"
        except ImmutableError:
            result = "immutable"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=evaluate, args=(s,))
        for s in (HypothesisStatus.SUPPORTED, HypothesisStatus.REFUTED) * 3
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["immutable"] * 5 + ["won"]


def test_store_rejects_bad_values(store: SQLStore) -> None:
    with pytest.raises(InvalidArgumentError, match="alpha"):
        _add(store, alpha=1.5)
    with pytest.raises(InvalidArgumentError, match="statement"):
        _add(store, statement="  ")
    with pytest.raises(InvalidArgumentError, match="seeds"):
        _add(store, seeds=0)
    with pytest.raises(InvalidArgumentError, match="min_effect"):
        _add(store, min_effect=-1.0)
    with pytest.raises(NotFoundError, match="hypothesis 999"):
        _add(store, supersedes=999)
    with pytest.raises(NotFoundError):
        store.get_hypothesis(12345)
    h = _add(store)
    with pytest.raises(InvalidArgumentError):
        store.record_hypothesis_result(h.id, HypothesisStatus.WAITING, {})


def test_store_refuses_wrong_types_naming_the_field(store: SQLStore) -> None:
    # these used to leak ValueError/TypeError/OverflowError or truncate 2.7 seeds to 2
    bad: list[tuple[dict[str, object], str]] = [
        ({"min_effect": "abc"}, "min_effect"),
        ({"min_effect": None}, "min_effect"),
        ({"alpha": "x"}, "alpha"),
        ({"seeds": 2.7}, "seeds"),
        ({"seeds": "3"}, "seeds"),
        ({"seeds": float("nan")}, "seeds"),
        ({"seeds": 1e30}, "seeds"),
        ({"supersedes": "1"}, "supersedes"),
    ]
    for kwargs, field in bad:
        with pytest.raises(InvalidArgumentError, match=field):
            _add(store, **kwargs)
    assert _add(store, seeds=3.0).seeds == 3
    for missing in (10**30, "abc", -1, True):
        with pytest.raises(NotFoundError):
            store.get_hypothesis(missing)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        store.record_hypothesis_result(10**30, HypothesisStatus.SUPPORTED, {})
    with pytest.raises(InvalidArgumentError, match="status"):
        store.record_hypothesis_result(1, "bogus", {})  # type: ignore[arg-type]
    assert len(store.list_hypotheses()) == 1  # nothing half-stored by the refusals


# --- service life cycle ----------------------------------------------------------------------


def _log_runs(
    client: labline.Client, model: str, accuracy: float, seeds: int, rng: np.random.Generator
) -> None:
    y = np.random.default_rng(0).integers(0, 3, N)
    for seed in range(seeds):
        with labline.start_run(
            "digits", params={"model": model, "seed": seed}, client=client, capture_env=False
        ) as run:
            pred = np.where(rng.random(N) < accuracy, y, (y + 1) % 3)
            run.log_predictions("test", np.arange(N), y, pred)


def test_hypothesis_waits_for_runs_then_is_evaluated_and_frozen(client: labline.Client) -> None:
    rng = np.random.default_rng(1)
    h = labline.add_hypothesis(
        "cnn beats logreg by at least a point",
        baseline="digits:model=logreg",
        candidate="digits:model=cnn",
        metric="accuracy",
        min_effect=0.01,
        seeds=3,
        client=client,
    )
    assert (
        labline.evaluate_hypothesis(h.id, client=client).status is HypothesisStatus.WAITING
    )  # no experiment yet
    _log_runs(client, "logreg", 0.75, 3, rng)
    _log_runs(client, "cnn", 0.85, 2, rng)
    assert (
        labline.evaluate_hypothesis(h.id, client=client).status is HypothesisStatus.WAITING
    )  # 2 of 3 seeds
    _log_runs(client, "cnn", 0.85, 1, rng)
    assert labline.get_hypothesis(h.id, client=client).status is HypothesisStatus.WAITING
    done = labline.evaluate_hypothesis(h.id, client=client)
    assert done.status is HypothesisStatus.SUPPORTED
    assert done.result["preregistered"] is True
    analysis = done.result["comparisons"][0]["analysis"]
    assert analysis["verdict"] == "better" and analysis["n_candidate_runs"] == 3
    assert "minimum effect" in done.result["outcome_reason"]
    # more runs arriving later do not change an evaluated hypothesis
    _log_runs(client, "cnn", 0.70, 3, rng)
    assert labline.evaluate_hypothesis(h.id, client=client).result == done.result


def test_revising_creates_a_linked_hypothesis_and_keeps_both(client: labline.Client) -> None:
    rng = np.random.default_rng(2)
    _log_runs(client, "logreg", 0.8, 1, rng)
    _log_runs(client, "cnn", 0.8, 1, rng)
    h = labline.add_hypothesis(
        "cnn beats logreg by five points",
        baseline="digits:model=logreg",
        candidate="digits:model=cnn",
        metric="accuracy",
        min_effect=0.05,
        client=client,
    )
    first = labline.evaluate_hypothesis(h.id, client=client)
    assert first.status is HypothesisStatus.REFUTED or first.status is HypothesisStatus.INCONCLUSIVE
    assert first.result["preregistered"] is False  # the runs existed before the hypothesis
    with pytest.raises(ImmutableError):
        client.store.record_hypothesis_result(h.id, HypothesisStatus.SUPPORTED, {})
    revised = labline.revise_hypothesis(h.id, metric="macro_f1", min_effect=0.001, client=client)
    assert (
        revised.supersedes == h.id
        and revised.metric == "macro_f1"
        and revised.baseline == h.baseline
    )
    client.evaluate_hypotheses()
    everything = labline.list_hypotheses(client=client)
    assert [x.id for x in everything] == [h.id, revised.id]
    assert everything[0].status == first.status  # the old one stays, unchanged
    assert everything[1].status.evaluated
    with pytest.raises(InvalidArgumentError, match="nothing to change"):
        labline.revise_hypothesis(h.id, client=client)


def test_hypothesis_with_a_bad_selector_or_metric_is_refused(client: labline.Client) -> None:
    # any metric compare takes is accepted (a logged key like "bleu" too); one that cannot
    # resolve is refused when the hypothesis is registered, not when it is evaluated
    with pytest.raises(InvalidArgumentError, match="after ':' comes last, min or max"):
        labline.add_hypothesis(
            "x",
            baseline="a:b=c",
            candidate="a:b=d",
            metric="bleu:median",
            min_effect=0.1,
            client=client,
        )
    with pytest.raises(InvalidArgumentError, match="key=value"):
        labline.add_hypothesis(
            "x", baseline="a:b", candidate="a:b=d", metric="accuracy", min_effect=0.1, client=client
        )


def test_waiting_hypothesis_says_why_it_cannot_be_evaluated(client: labline.Client) -> None:
    for model in ("logreg", "cnn"):  # one run each, no predictions: nothing to compare yet
        with labline.start_run(
            "digits", params={"model": model}, client=client, capture_env=False
        ) as run:
            run.log_metric("accuracy", 0.8)
    h = labline.add_hypothesis(
        "cnn beats logreg",
        baseline="digits:model=logreg",
        candidate="digits:model=cnn",
        metric="accuracy",
        min_effect=0.01,
        client=client,
    )
    assert labline.evaluate_hypothesis(h.id, client=client).status is HypothesisStatus.WAITING
    progress = client.hypothesis_progress(h)
    assert progress.baseline_runs == progress.candidate_runs == 1
    assert progress.problem is not None and "at least 2 runs" in progress.problem
    assert "at least 2 runs" in str(progress)


def test_reading_never_evaluates_and_a_matching_compare_does(client: labline.Client) -> None:
    rng = np.random.default_rng(3)
    _log_runs(client, "logreg", 0.7, 1, rng)
    _log_runs(client, "cnn", 0.9, 1, rng)
    kw = {"baseline": "digits:model=logreg", "metric": "accuracy", "min_effect": 0.01}
    h = client.add_hypothesis("cnn wins", candidate="digits:model=cnn", **kw)
    other = client.add_hypothesis(
        "f1 too", candidate="digits:model=cnn", **{**kw, "metric": "macro_f1"}
    )
    for _ in range(2):  # runs are in, but reads leave both waiting
        assert client.get_hypothesis(h.id).status is HypothesisStatus.WAITING
        assert {x.status for x in client.list_hypotheses()} == {HypothesisStatus.WAITING}
    client.compare("digits: model=logreg", ["digits:model = cnn"], "accuracy")
    assert client.get_hypothesis(h.id).status is HypothesisStatus.SUPPORTED
    assert client.get_hypothesis(other.id).status is HypothesisStatus.WAITING  # other metric


def test_compare_reads_each_prediction_set_once(
    client: labline.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(4)
    _log_runs(client, "logreg", 0.7, 2, rng)
    _log_runs(client, "cnn", 0.9, 2, rng)
    client.add_hypothesis(
        "cnn wins",
        baseline="digits:model=logreg",
        candidate="digits:model=cnn",
        metric="accuracy",
        min_effect=0.01,
        seeds=2,
    )
    reads: list[str] = []
    real = client.read_predictions_file

    def counting(record: labline.PredictionsRecord) -> bytes:
        reads.append(record.blob_digest)
        return real(record)

    monkeypatch.setattr(client, "read_predictions_file", counting)
    client.compare("digits:model=logreg", "digits:model=cnn", "accuracy")
    assert client.list_hypotheses()[0].status.evaluated  # evaluated by the same comparison
    assert len(reads) == 4 and len(set(reads)) == 4


def test_comparing_a_logged_metric_leaves_hypotheses_alone(client: labline.Client) -> None:
    for model, loss in (("logreg", 0.5), ("cnn", 0.3)):
        for seed in range(3):
            with client.start_run(
                "digits", params={"model": model, "seed": seed}, capture_env=False
            ) as run:
                run.log_metric("loss", loss + 0.01 * seed)
    h = client.add_hypothesis(
        "cnn wins",
        baseline="digits:model=logreg",
        candidate="digits:model=cnn",
        metric="accuracy",
        min_effect=0.01,
    )
    report = client.compare("digits:model=logreg", "digits:model=cnn", "loss:last")
    assert report.metric and client.get_hypothesis(h.id).status is HypothesisStatus.WAITING
