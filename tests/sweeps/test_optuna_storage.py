"""labline.optuna.Storage passes Optuna's own storage suite (``optuna.testing.pytest_storages``)
on SQLite, PostgreSQL and labline server (HTTP), and its trials are ordinary labline runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import labline

optuna = pytest.importorskip("optuna", reason="the sweeps extra is part of dev")
from optuna.testing.pytest_storages import StorageTestCase  # noqa: E402

from labline.optuna import Storage  # noqa: E402


@pytest.fixture
def client(backend_client: labline.Client) -> labline.Client:
    """This module's tests run on SQLite, PostgreSQL and a labline server over HTTP."""
    return backend_client


@pytest.fixture
def storage(client: labline.Client) -> Iterator[Storage]:
    yield Storage(client=client)


class TestLablineStorage(StorageTestCase):
    """Every test of Optuna's storage contract, on each labline backend."""


def test_trials_are_child_runs_with_params_metrics_and_tags(client: labline.Client) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=Storage(client=client), study_name="quad", direction="minimize"
    )

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        for step in range(3):
            trial.report((x - 1) ** 2 + step, step)
        trial.set_user_attr("note", "hello")
        return (x - 1) ** 2 + (kind == "b")

    study.optimize(objective, n_trials=6)
    sweep = client.sweeps.get("quad")
    children = client.child_runs(sweep.run_id)
    assert len(children) == 6
    by_number = {int(r.tags["sweep.trial"]): r for r in children}
    for t in study.trials:
        run = by_number[t.number]
        assert run.status is labline.RunStatus.FINISHED
        assert run.tags["sweep.state"] == "complete"
        assert run.tags["sweep.attr.note"] == '"hello"'
        assert float(run.params["x"]) == pytest.approx(t.params["x"])
        assert run.params["kind"] == t.params["kind"]
        series = client.get_metric_series(run.id, "value")
        assert list(series.steps) == [0, 1, 2, 3]
        assert series.values[-1] == pytest.approx(t.value)
        assert series.values[:3] == pytest.approx([t.intermediate_values[s] for s in range(3)])
    # trials are searchable like any run
    best = client.search_runs(
        "sweeps", filter=f"tags.sweep = '{sweep.id}'", order_by="metrics.value"
    ).runs
    assert best[0].id == by_number[study.best_trial.number].id


def test_failed_and_pruned_trials_mark_their_runs(client: labline.Client) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=Storage(client=client), study_name="s")

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 0:
            raise optuna.TrialPruned()
        raise RuntimeError("boom")

    study.optimize(objective, n_trials=2, catch=(RuntimeError,))
    runs = {r.tags["sweep.trial"]: r for r in client.child_runs(client.sweeps.get("s").run_id)}
    assert (
        runs["0"].status is labline.RunStatus.FINISHED and runs["0"].tags["sweep.state"] == "pruned"
    )
    assert runs["1"].status is labline.RunStatus.FAILED and runs["1"].tags["sweep.state"] == "fail"


def test_deleting_a_study_marks_its_runs_deleted(client: labline.Client) -> None:
    storage = Storage(client=client)
    study = optuna.create_study(storage=storage, study_name="gone")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    parent = client.sweeps.get("gone").run_id
    optuna.delete_study(study_name="gone", storage=storage)
    with pytest.raises(labline.NotFoundError):
        client.sweeps.get("gone")
    assert client.get_run(parent).deleted
    assert list(client.search_runs("sweeps").runs) == []


def test_a_study_outside_sweep_run_finishes_its_run(client: labline.Client) -> None:
    """A study driven only through the storage (no ``labline sweep run``): its run is running
    while a trial runs, and finished (not left running, then stale) once none is."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=Storage(client=client), study_name="free")
    parent = client.sweeps.get("free").run_id
    during: list[labline.RunStatus] = []

    def objective(trial: optuna.Trial) -> float:
        during.append(client.get_run(parent).status)
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 3:
            raise RuntimeError("the last trial fails")
        return x

    study.optimize(objective, n_trials=4, catch=(RuntimeError,))
    assert during == [labline.RunStatus.RUNNING] * 4
    run = client.get_run(parent)
    assert run.status is labline.RunStatus.FINISHED and run.ended_at is not None
    # a study goes on when asked to: running again, finished again
    study.enqueue_trial({"x": 0.5})
    assert client.get_run(parent).status is labline.RunStatus.FINISHED  # waiting runs nothing
    study.optimize(objective, n_trials=1)
    assert during[-1] is labline.RunStatus.RUNNING
    assert client.get_run(parent).status is labline.RunStatus.FINISHED
    assert [t.state for t in study.trials][-1] is optuna.trial.TrialState.COMPLETE
