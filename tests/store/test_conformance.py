"""The metadata-store contract, run against every backend (SQLite always, PostgreSQL in CI)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import sqlalchemy as sa

import labline
from http_store_support import recorded_actor, stored_blob
from labline import RunStatus
from labline.core._types import ArtifactRecord, DatasetRecord
from labline.store.sql import SQLStore


def _chunk(values: list[float], start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(values)
    return np.arange(start, start + n), np.full(n, 1.7e9), np.array(values, dtype=float)


def test_experiments(store: SQLStore) -> None:
    e = store.create_experiment("digits")
    assert store.get_experiment("digits") == e == store.get_experiment(e.id)
    assert store.get_or_create_experiment("digits") == e
    assert [x.name for x in store.list_experiments()] == ["digits"]
    with pytest.raises(labline.AlreadyExistsError, match="'digits' already exists"):
        store.create_experiment("digits")
    with pytest.raises(labline.NotFoundError, match="nope"):
        store.get_experiment("nope")
    with pytest.raises(labline.InvalidArgumentError, match=r"empty|at least 1 character"):
        store.create_experiment("")


def test_experiment_tags(store: SQLStore) -> None:
    e = store.create_experiment("tagged", tags={"mlflow.note.content": "# notes", "team": "cv"})
    assert e.tags == {"mlflow.note.content": "# notes", "team": "cv"}
    assert store.get_experiment("tagged").tags == e.tags
    assert store.create_experiment("bare").tags == {}
    store.set_experiment_tags(e.id, {"team": "nlp", "owner": "ana"})  # last write wins
    assert store.get_experiment(e.id).tags == {
        "mlflow.note.content": "# notes",
        "team": "nlp",
        "owner": "ana",
    }
    store.delete_experiment_tag("tagged", "owner")
    listed = {x.name: x.tags for x in store.list_experiments()}
    assert listed == {"tagged": {"mlflow.note.content": "# notes", "team": "nlp"}, "bare": {}}
    with pytest.raises(labline.NotFoundError, match="owner"):
        store.delete_experiment_tag(e.id, "owner")
    with pytest.raises(labline.NotFoundError):
        store.set_experiment_tags("nope", {"a": "b"})
    with pytest.raises(labline.InvalidArgumentError):
        store.set_experiment_tags(e.id, {" lead": "x"})
    with pytest.raises(labline.InvalidArgumentError):  # nothing of a refused create is kept
        store.create_experiment("half", tags={"bad\nkey": "x"})
    assert [x.name for x in store.list_experiments()] == ["tagged", "bare"]
    store.rename_experiment(e.id, "renamed")
    store.delete_experiment(e.id, actor="ana")
    store.set_experiment_tags(e.id, {"why": "superseded"})  # a deleted one keeps its notes
    assert store.get_experiment("renamed").tags["why"] == "superseded"
    assert store.purge_deleted().experiments == ("renamed",)
    with pytest.raises(labline.NotFoundError):
        store.get_experiment(e.id)
    again = store.create_experiment("renamed")  # the name is free again, with no old tags
    assert again.tags == {}


def test_run_lifecycle_and_search(store: SQLStore) -> None:
    e = store.create_experiment("x")
    a = store.create_run(
        e.id,
        "a",
        params={"model": "logreg", "seed": "1"},
        tags={"team": "r"},
        env={"python": "3.11"},
    )
    b = store.create_run(e.id, "", params={"model": "mlp", "seed": "1"})
    assert b.name == f"run-{b.id[:8]}"
    assert a.status is RunStatus.RUNNING and a.params == {"model": "logreg", "seed": "1"}
    assert a.env == {"python": "3.11"}
    assert {r.id for r in store.search_runs(experiment="x")} == {a.id, b.id}
    assert [r.id for r in store.search_runs(params={"model": "logreg"})] == [a.id]
    assert [r.id for r in store.search_runs(params={"seed": "1"}, tags={"team": "r"})] == [a.id]
    assert [r.id for r in store.search_runs(run_ids=[b.id])] == [b.id]
    store.set_run_status(a.id, RunStatus.FINISHED)
    store.set_run_status(b.id, RunStatus.FAILED, error="boom")
    assert (
        store.get_run(a.id).status is RunStatus.FINISHED
        and store.get_run(a.id).ended_at is not None
    )
    assert store.get_run(b.id).error == "boom"
    assert [r.id for r in store.search_runs(status=RunStatus.FAILED)] == [b.id]
    with pytest.raises(labline.NotFoundError, match="no run 'zzz'"):
        store.get_run("zzz")
    with pytest.raises(labline.NotFoundError):
        store.create_run(9999, "r")
    with pytest.raises(labline.NotFoundError):
        store.search_runs(experiment="missing")


def test_params_are_write_once_and_atomic(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r", params={"lr": "0.1"})
    store.log_params(r.id, {"lr": "0.1", "depth": "3"})  # same value again: fine
    with pytest.raises(labline.ParamConflictError) as ei:
        store.log_params(r.id, {"batch": "32", "lr": "0.2"})
    msg = str(ei.value)
    assert "'lr'" in msg and "'0.1'" in msg and "'0.2'" in msg
    assert store.get_run(r.id).params == {
        "depth": "3",
        "lr": "0.1",
    }  # 'batch' was not stored either


def test_tags_can_change(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r", tags={"stage": "a"})
    store.set_tags(r.id, {"stage": "b", "other": "1"})
    assert store.get_run(r.id).tags == {"other": "1", "stage": "b"}


@pytest.mark.parametrize("key", ["", " lead", "x" * 251, "bad\nkey"])
def test_bad_keys_are_refused(store: SQLStore, key: str) -> None:
    r = store.create_run(store.create_experiment("x").id, "r")
    with pytest.raises(labline.InvalidArgumentError):
        store.log_params(r.id, {key: "1"})
    with pytest.raises(labline.InvalidArgumentError):
        store.append_metrics(r.id, {key: _chunk([1.0])})
    assert store.get_run(r.id).params == {}


def test_metric_series_round_trip_with_non_finite_values(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r")
    store.append_metrics(r.id, {"loss": _chunk([3.0, math.nan, 1.0]), "acc": _chunk([0.5])})
    store.append_metrics(r.id, {"loss": _chunk([math.inf, -math.inf, 0.5], start=3)})
    s = store.get_metric_series(r.id, "loss")
    np.testing.assert_array_equal(s.steps, np.arange(6))
    np.testing.assert_array_equal(s.values, [3.0, math.nan, 1.0, math.inf, -math.inf, 0.5])
    m = store.get_run(r.id).metrics
    assert (m["loss"].count, m["loss"].last_value, m["loss"].last_step) == (6, 0.5, 5)
    assert (m["loss"].min_value, m["loss"].max_value) == (-math.inf, math.inf)
    assert m["acc"].count == 1
    with pytest.raises(labline.NotFoundError, match="no metric 'nope'"):
        store.get_metric_series(r.id, "nope")
    with pytest.raises(labline.NotFoundError):
        store.append_metrics("missing-run", {"loss": _chunk([1.0])})


def test_metric_steps_values_are_the_series_without_timestamps(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r")
    store.append_metrics(r.id, {"loss": _chunk([3.0, math.nan, 1.0])})
    store.append_metrics(r.id, {"loss": _chunk([math.inf, 0.5], start=3)})
    big = np.random.default_rng(0).normal(size=300_000)  # a blob in many pages
    store.append_metrics(r.id, {"loss": (np.arange(5, 5 + big.size), np.zeros(big.size), big)})
    steps, values = store.get_metric_steps_values(r.id, "loss")
    series = store.get_metric_series(r.id, "loss")
    np.testing.assert_array_equal(steps, series.steps)
    np.testing.assert_array_equal(values, series.values)
    np.testing.assert_array_equal(values[:5], [3.0, math.nan, 1.0, math.inf, 0.5])
    np.testing.assert_array_equal(values[5:], big)
    np.testing.assert_array_equal(steps, np.arange(5 + big.size))
    with pytest.raises(labline.NotFoundError, match="no metric 'nope'"):
        store.get_metric_steps_values(r.id, "nope")
    with pytest.raises(labline.NotFoundError):
        store.get_metric_steps_values("0" * 32, "loss")


def test_all_nan_series_summary(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r")
    store.append_metrics(r.id, {"loss": _chunk([math.nan, math.nan])})
    m = store.get_run(r.id).metrics["loss"]
    assert math.isnan(m.last_value) and math.isnan(m.min_value) and m.count == 2


def test_datasets_predictions_artifacts(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "r")
    d = DatasetRecord(
        run_id=r.id,
        name="test",
        fingerprint="sha256:" + "a" * 64,
        kind="array",
        n_rows=10,
        meta={"k": 1},
    )
    store.add_dataset(d)
    store.add_dataset(d)  # idempotent
    assert store.list_datasets(r.id) == [d]
    with pytest.raises(labline.InvalidArgumentError, match="fingerprint"):
        store.add_dataset(DatasetRecord(r.id, "test", "sha256:" + "b" * 64, "array", 10))
    art = ArtifactRecord(run_id=r.id, path="model/w.bin", digest=stored_blob(store, b"w1"), size=2)
    store.add_artifacts([art])
    store.add_artifacts([art])
    other = stored_blob(store, b"w2")
    with pytest.raises(labline.ImmutableError, match=r"model/w\.bin"):
        store.add_artifacts([ArtifactRecord(r.id, "model/w.bin", other, 2)])
    assert store.list_artifacts(r.id) == [art]


def test_stale_run_when_writer_process_is_dead(store: SQLStore) -> None:
    e = store.create_experiment("x")
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(proc.stdout)
    import socket

    r = store.create_run(e.id, "r", host=socket.gethostname(), pid=dead_pid)
    assert store.get_run(r.id).status is RunStatus.STALE
    alive = store.create_run(e.id, "r2", host=socket.gethostname(), pid=os.getpid())
    assert store.get_run(alive.id).status is RunStatus.RUNNING


def test_stale_after_missing_heartbeats(store_url: str) -> None:
    s = SQLStore(store_url, stale_after=0.0)
    r = s.create_run(s.create_experiment("x").id, "r", host="elsewhere", pid=1)
    assert s.get_run(r.id).status is RunStatus.STALE
    s.close()


def test_schema_version_is_checked(store_url: str) -> None:
    s = SQLStore(store_url)
    from labline.store.sql._store import head_revision

    assert s.schema_revision() == head_revision()
    with s.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    s.close()
    with pytest.raises(labline.SchemaVersionError, match="from_the_future"):
        SQLStore(store_url)


def test_older_schema_is_upgraded(store_url: str) -> None:
    s = SQLStore(store_url)
    from alembic import command

    from labline.store.sql._store import _alembic_config, head_revision

    cfg = _alembic_config()
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_foundation")
    assert s.schema_revision() == "0001_foundation"
    with pytest.raises(labline.SchemaVersionError, match="labline db upgrade"):
        SQLStore(store_url, upgrade=False)
    assert SQLStore(store_url).schema_revision() == head_revision()
    s.close()


def test_driver_errors_become_storage_errors_without_sql_or_values(sql_store: SQLStore) -> None:
    store = sql_store
    r = store.create_run(store.create_experiment("x").id, "r")
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE tags"))
    with pytest.raises(labline.StorageError) as ei:
        store.set_tags(r.id, {"secret-key": "secret-value-123"})
    msg = str(ei.value)
    assert "tags" in msg  # the driver's own complaint is kept ...
    assert (
        "secret-value-123" not in msg and "SELECT" not in msg and "INSERT" not in msg
    )  # ... the SQL is not
    assert store.list_datasets(r.id) == []  # the store still works for everything else


def test_runs_record_their_writer_and_are_soft_deleted(store: SQLStore) -> None:
    e = store.create_experiment("x")
    a = store.create_run(e.id, "a", created_by="ana")
    b = store.create_run(e.id, "b")
    assert (a.created_by, b.created_by) == (recorded_actor(store, "ana"), recorded_actor(store, ""))
    store.set_run_status(a.id, RunStatus.FINISHED)
    store.delete_run(a.id, actor="bo")
    store.delete_run(a.id, actor="cy")  # already deleted: the first deletion stands
    gone = store.get_run(a.id)
    assert (
        gone.deleted
        and gone.deleted_by == recorded_actor(store, "bo")
        and gone.status is RunStatus.FINISHED
    )
    assert [r.id for r in store.search_runs(experiment="x")] == [b.id]
    assert [r.id for r in store.search_runs(run_ids=[a.id])] == []
    assert {r.id for r in store.search_runs(experiment="x", include_deleted=True)} == {a.id, b.id}
    store.restore_run(a.id)
    assert not store.get_run(a.id).deleted and store.get_run(a.id).deleted_by is None
    assert {r.id for r in store.search_runs(experiment="x")} == {a.id, b.id}
    with pytest.raises(labline.NotFoundError):
        store.delete_run("0" * 32, actor="bo")
    with pytest.raises(labline.InvalidArgumentError, match="actor"):
        store.delete_run(b.id, actor="")
    with pytest.raises(labline.InvalidArgumentError, match="created_by"):
        store.create_run(e.id, "c", created_by="x" * 251)


def test_finished_runs_can_be_renamed_and_retagged(store: SQLStore) -> None:
    r = store.create_run(store.create_experiment("x").id, "old", tags={"stage": "draft"})
    store.set_run_status(r.id, RunStatus.FINISHED)
    store.rename_run(r.id, "new")
    store.set_tags(r.id, {"stage": "final", "owner": "ana"})
    store.delete_tag(r.id, "owner")
    run = store.get_run(r.id)
    assert run.name == "new" and run.tags == {"stage": "final"}
    with pytest.raises(labline.NotFoundError, match="no tag 'owner'"):
        store.delete_tag(r.id, "owner")
    with pytest.raises(labline.InvalidArgumentError):
        store.rename_run(r.id, "")
    with pytest.raises(labline.NotFoundError):
        store.rename_run("0" * 32, "x")


def test_hypotheses_record_their_writer(store: SQLStore) -> None:
    kw = {"baseline": "a:m=1", "candidate": "a:m=2", "metric": "accuracy", "dataset": None}
    h = store.add_hypothesis(
        statement="s", min_effect=0.0, alpha=0.05, seeds=1, created_by="ana", **kw
    )
    assert store.get_hypothesis(h.id).created_by == recorded_actor(store, "ana")
    with pytest.raises(labline.InvalidArgumentError, match="created_by"):
        store.add_hypothesis(
            statement="s", min_effect=0.0, alpha=0.05, seeds=1, created_by="a\nb", **kw
        )


def test_rows_written_before_writers_were_kept_read_as_unknown(store_url: str) -> None:
    from alembic import command

    from labline.store.sql._store import _alembic_config

    s = SQLStore(store_url)
    cfg = _alembic_config()
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_hypothesis_seed")
        conn.execute(
            sa.text("INSERT INTO experiments (name, created_at) VALUES ('x', :t)"),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, experiment_id, name, status, created_at, env, host, pid) "
                "VALUES (:id, 1, 'old', 'finished', :t, '{}', '', 0)"
            ),
            {"id": "a" * 32, "t": "2026-01-01 00:00:00"},
        )
    s.close()
    s = SQLStore(store_url)
    old = s.get_run("a" * 32)
    assert old.created_by == "" and not old.deleted
    assert [r.id for r in s.search_runs()] == ["a" * 32]
    s.close()


def test_migration_0015_matches_the_orm_tables(sql_store: SQLStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    with sql_store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [
            d
            for d in compare_metadata(ctx, Base.metadata)
            if "experiment_tags" in repr(d) or "registered_models" in repr(d)
        ]
    assert diffs == []


def test_migration_0015_downgrades_and_upgrades(store_url: str) -> None:
    from alembic import command

    from labline.store.sql._store import _alembic_config, head_revision

    s = SQLStore(store_url)
    e = s.create_experiment("kept", tags={"a": "1"})
    s.register_model_version("m", "sha256:" + "a" * 64, run_id=None, created_by="t", meta={})
    cfg = _alembic_config()
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014_metric_batches")
    s.close()
    s = SQLStore(store_url)  # upgrades again: the model reads with an empty card
    assert s.schema_revision() == head_revision()
    assert s.get_experiment(e.id).tags == {}
    m = s.get_registered_model("m")
    assert (m.latest_version, m.description, dict(m.tags)) == (1, "", {})
    s.close()
