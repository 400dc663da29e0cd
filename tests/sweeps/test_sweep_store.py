"""The sweep store contract on SQLite, PostgreSQL and HTTP: atomic numbering under concurrent
processes, conditional state moves, immutability of finished trials, the migration."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labline
from http_store_support import ThreadedServer, fresh_http_client
from labline import TrialParam, TrialState
from labline.store.sql import SQLStore

DIST = '{"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": false, "step": null}}'


@pytest.fixture
def client(backend_client: labline.Client) -> labline.Client:
    """This module's tests run on SQLite, PostgreSQL and a labline server over HTTP."""
    return backend_client


def _same(a: str, b: str) -> bool:
    return a == b


def test_trial_states_move_once_and_finished_trials_are_immutable(client: labline.Client) -> None:
    sweep = client.sweeps.create("s", directions=["maximize"], metrics=["accuracy"])
    waiting = client.sweeps.create_trial(sweep.id, state=TrialState.WAITING)
    assert waiting.datetime_start is None
    assert client.sweeps.set_state(waiting.id, TrialState.RUNNING) is True
    # a second worker asking for the same waiting trial is told no
    assert client.sweeps.set_state(waiting.id, TrialState.RUNNING) is False
    client.sweeps.set_param(waiting.id, "lr", TrialParam(0.5, DIST, "0.5"), compatible=_same)
    client.sweeps.report(waiting.id, 0, 0.7)
    assert client.sweeps.set_state(waiting.id, TrialState.COMPLETE, [0.9]) is True
    for write in (
        lambda: client.sweeps.set_state(waiting.id, TrialState.FAIL),
        lambda: client.sweeps.report(waiting.id, 1, 0.8),
        lambda: client.sweeps.set_trial_attr(waiting.id, "k", 1),
        lambda: client.sweeps.set_param(
            waiting.id, "x", TrialParam(0.1, DIST, "0.1"), compatible=_same
        ),
    ):
        with pytest.raises(labline.ImmutableError, match="finished trial"):
            write()
    run = client.get_run(client.sweeps.get_trial(waiting.id).run_id)
    assert run.params == {"lr": "0.5"} and run.tags["sweep.state"] == "complete"
    assert run.metrics["accuracy"].last_value == 0.9 and run.metrics["accuracy"].count == 2
    assert run.parent_id == sweep.run_id


def test_a_param_keeps_its_first_distribution(client: labline.Client) -> None:
    sweep = client.sweeps.create("s")
    a = client.sweeps.create_trial(sweep.id)
    b = client.sweeps.create_trial(sweep.id)
    client.sweeps.set_param(a.id, "lr", TrialParam(0.5, DIST, "0.5"), compatible=_same)
    with pytest.raises(labline.InvalidArgumentError, match=r"'lr'.*another distribution"):
        client.sweeps.set_param(
            b.id, "lr", TrialParam(1.0, DIST.replace("1.0", "2.0"), "1.0"), compatible=_same
        )
    assert client.sweeps.get_trial(b.id).params == {}
    assert "lr" not in client.get_run(b.run_id).params


def test_unknown_ids_and_bad_input_are_named(client: labline.Client) -> None:
    with pytest.raises(labline.NotFoundError):
        client.sweeps.get(12345)
    with pytest.raises(labline.NotFoundError):
        client.sweeps.create_trial(12345)
    with pytest.raises(labline.InvalidArgumentError, match="directions"):
        client.sweeps.create("x", directions=["up"])
    sweep = client.sweeps.create("x")
    with pytest.raises(labline.AlreadyExistsError, match="'x'"):
        client.sweeps.create("x")
    t = client.sweeps.create_trial(sweep.id)
    with pytest.raises(labline.InvalidArgumentError, match="NaN"):
        client.sweeps.set_state(t.id, TrialState.COMPLETE, [float("nan")])
    with pytest.raises(labline.InvalidArgumentError, match="JSON"):
        client.sweeps.set_trial_attr(t.id, "obj", object())
    assert client.sweeps.get_trial(t.id).state is TrialState.RUNNING


_WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    import labline
    from labline.optuna import Storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # "env": LABLINE_URI/LABLINE_TOKEN name a labline server
    client = labline.Client() if sys.argv[1] == "env" else labline.Client(sys.argv[1], artifact_uri=sys.argv[2])
    study = optuna.load_study(
        study_name="race", storage=Storage(client=client), sampler=optuna.samplers.RandomSampler()
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=int(sys.argv[3]))
    client.close()
    """
)


@pytest.mark.slow
def test_eight_processes_lose_and_duplicate_no_trial(store_url: str, tmp_path: Path) -> None:
    import optuna

    from labline.optuna import Storage

    n_workers, n_trials = 8, 100
    client = labline.Client(store_url, artifact_uri=str(tmp_path / "blobs"))
    optuna.create_study(study_name="race", storage=Storage(client=client))
    worker = tmp_path / "worker.py"
    worker.write_text(_WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), store_url, str(tmp_path / "blobs"), str(n_trials)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-2000:]
    sweep = client.sweeps.get("race")
    trials = client.sweeps.trials(sweep.id)
    assert sorted(t.number for t in trials) == list(range(n_workers * n_trials))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    runs = client.child_runs(sweep.run_id)
    assert len(runs) == n_workers * n_trials
    assert sorted(int(r.tags["sweep.trial"]) for r in runs) == list(range(n_workers * n_trials))
    assert all(r.metrics["value"].count == 1 for r in runs)
    # the last of many trials ending at once finished the sweep's run
    assert client.get_run(sweep.run_id).status is labline.RunStatus.FINISHED
    client.close()


@pytest.mark.slow
def test_eight_processes_through_a_server_lose_and_duplicate_no_trial(
    http_server: ThreadedServer, tmp_path: Path
) -> None:
    """Eight worker processes on one study through labline server (its store numbers the
    trials and moves their states; the workers only send requests)."""
    import optuna

    from labline.optuna import Storage

    n_workers, n_trials = 8, 6
    for client in fresh_http_client(http_server, tmp_path):
        optuna.create_study(study_name="race", storage=Storage(client=client))
        worker = tmp_path / "worker.py"
        worker.write_text(_WORKER)
        env = {
            **os.environ,
            "LABLINE_HOME": str(tmp_path / "worker-home"),
            "LABLINE_URI": http_server.url,
            "LABLINE_TOKEN": client.settings.token or "",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, str(worker), "env", "", str(n_trials)],
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(n_workers)
        ]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err[-2000:]
        sweep = client.sweeps.get("race")
        trials = client.sweeps.trials(sweep.id)
        total = n_workers * n_trials
        assert sorted(t.number for t in trials) == list(range(total))
        assert all(t.state is TrialState.COMPLETE for t in trials)
        runs = client.child_runs(sweep.run_id)
        assert sorted(int(r.tags["sweep.trial"]) for r in runs) == list(range(total))
        assert all(r.metrics["value"].count == 1 and r.created_by == "tester" for r in runs)
        assert client.get_run(sweep.run_id).status is labline.RunStatus.FINISHED


def test_migration_0011_matches_the_orm_tables(sql_store: SQLStore) -> None:
    store = sql_store
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    ours = [d for d in diffs if "sweep" in repr(d)]
    assert ours == []
