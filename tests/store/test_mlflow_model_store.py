"""The MLflow-model store contract on every backend (records of MLflow 3 logged models:
write-once params, last-write-wins tags, deletion, search, purge with their run), and the
``client.mlflow_models`` use case that holds their files in a run."""

from __future__ import annotations

import pytest

import labline
from labline import MlflowModelStatus, NotFoundError, ParamConflictError
from labline.store.sql import SQLStore


def test_logged_model_records_on_every_backend(client: labline.Client) -> None:
    models = client.mlflow_models
    run = client.create_run("digits", "train")
    m = models.create("digits", "clf", source_run_id=run.id, params={"C": "1"}, tags={"a": "b"})
    assert m.id.startswith("m-") and len(m.id) == 34
    assert m.status is MlflowModelStatus.PENDING and m.run_id == run.id
    assert m.artifact_path == f"models/{m.id}" and m.created_by == client.actor

    again = models.update(m.id, params={"C": "1", "depth": "3"}, tags={"a": "c"})
    assert dict(again.params) == {"C": "1", "depth": "3"} and dict(again.tags) == {"a": "c"}
    with pytest.raises(ParamConflictError):  # params are write-once
        models.update(m.id, params={"C": "2"})
    assert dict(models.get(m.id).params) == {"C": "1", "depth": "3"}  # nothing half-written
    with pytest.raises(NotFoundError):
        models.update(m.id, delete_tags=["nope"])
    assert models.update(m.id, delete_tags=["a"]).tags == {}

    ready = models.finalize(m.id, "READY")
    assert ready.status is MlflowModelStatus.READY and ready.updated_at >= m.updated_at
    with pytest.raises(labline.InvalidArgumentError):
        models.finalize(m.id, "DONE")

    free = models.create("digits", "free")  # no source run: a finished run holds its files
    holder = client.get_run(free.run_id)
    assert free.source_run_id is None and holder.status.value == "finished"
    assert [x.id for x in models.search(["digits"])] == [free.id, m.id]  # newest first
    assert [x.id for x in models.search(["digits"], name="clf")] == [m.id]
    assert [x.id for x in models.search(source_run_id=run.id)] == [m.id]
    models.delete(free.id)
    assert [x.id for x in models.search(["digits"])] == [m.id]
    assert models.get(free.id).deleted
    with pytest.raises(NotFoundError):
        models.get("m-" + "0" * 32)
    with pytest.raises(NotFoundError):
        models.create("digits", "x", source_run_id="f" * 32)


def test_purging_a_run_purges_its_logged_models(client: labline.Client) -> None:
    run = client.create_run("digits", "train")
    m = client.mlflow_models.create("digits", "clf", source_run_id=run.id)
    client.end_run(run.id, "finished")
    client.delete_run(run.id)
    client.gc(grace=0)
    with pytest.raises(NotFoundError):
        client.mlflow_models.get(m.id)


def test_migration_0013_matches_the_orm_table(sql_store: SQLStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    with sql_store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if "mlflow_models" in repr(d)]
    assert diffs == []
