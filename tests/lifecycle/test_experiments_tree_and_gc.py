"""Parent and child runs, experiments deleted/restored/renamed, and gc: what it purges and
what it must never remove. Every backend."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from labline import AlreadyExistsError, InvalidArgumentError, NotFoundError, StorageError

X, Y = load_iris(return_X_y=True)


# -- parents and children -------------------------------------------------------------------
def test_child_runs_live_in_their_parents_experiment(client: labline.Client) -> None:
    with client.start_run("sweep", name="search", capture_env=False) as parent:
        with client.start_run(parent=parent, name="trial-0", capture_env=False) as t0:
            pass
        with client.start_run(
            name="trial-1", parent=parent.id[:10], params={"lr": 0.1}, capture_env=False
        ) as t1:
            pass
        with client.start_run(parent=client.get_run(t1.id), capture_env=False) as grandchild:
            pass
    assert client.get_run(t0.id).parent_id == parent.id
    assert client.get_run(t1.id).experiment == "sweep"
    assert [r.id for r in client.child_runs(parent.id)] == [t0.id, t1.id]
    assert [r.id for r in client.child_runs(t1)] == [grandchild.id]
    assert client.child_runs(grandchild.id) == []
    assert client.get_run(parent.id).parent_id is None
    with pytest.raises(InvalidArgumentError, match="another experiment"):
        client.start_run("elsewhere", parent=parent.id, capture_env=False)
    with pytest.raises(NotFoundError):
        client.start_run(parent="f" * 32, capture_env=False)
    with labline.start_run(parent=parent, client=client, capture_env=False) as via_module:
        pass
    assert client.get_run(via_module.id).parent_id == parent.id


# -- experiments ------------------------------------------------------------------------------
def test_experiments_delete_restore_rename(client: labline.Client) -> None:
    with client.start_run("old", capture_env=False) as run:
        pass
    with client.start_run("other", capture_env=False) as other:
        pass
    deleted = client.delete_experiment("old")
    assert deleted.deleted and deleted.deleted_by == client.actor
    assert [e.name for e in client.list_experiments()] == ["other"]
    assert [e.name for e in client.list_experiments(include_deleted=True)] == ["old", "other"]
    assert [r.id for r in client.search_runs()] == [other.id]
    assert client.search_runs("old") == []
    assert {r.id for r in client.search_runs(include_deleted=True)} == {run.id, other.id}
    assert client.get_run(run.id).experiment == "old"  # by id it is still there
    with pytest.raises(InvalidArgumentError, match="deleted"):
        client.start_run("old", capture_env=False)
    assert client.delete_experiment("old").deleted  # twice is fine
    restored = client.restore_experiment(deleted.id)
    assert not restored.deleted and [r.id for r in client.search_runs("old")] == [run.id]
    renamed = client.rename_experiment("old", "baseline")
    assert renamed.id == deleted.id and client.get_run(run.id).experiment == "baseline"
    with pytest.raises(AlreadyExistsError):
        client.rename_experiment("baseline", "other")
    with pytest.raises(InvalidArgumentError):
        client.rename_experiment("baseline", "")
    with pytest.raises(NotFoundError):
        client.delete_experiment("nope")


# -- gc ---------------------------------------------------------------------------------------
def _predict_and_log(run: labline.ActiveRun, seed: int) -> None:
    ids = np.arange(30)
    rng = np.random.default_rng(seed)
    run.log_predictions("test", ids, Y[:30], rng.integers(0, 3, 30))


def _blob(client: labline.Client, digest: str) -> bool:
    return client.blobs.exists(digest)


def _fit() -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(X, Y)


def _serve_predict(client: labline.Client, ref: str) -> tuple[int, Any, str | None]:
    from labline.serving import RegistryModelSource, ServeSettings, create_app

    app = create_app(ServeSettings(), RegistryModelSource(ref, client))

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            field = client.load_model(ref).manifest.input_schema[0].name
            return await http.post("/predict", json={"columns": {field: X[:3].tolist()}})

    r = asyncio.run(call())
    return r.status_code, r.json(), r.headers.get("x-labline-model-digest")


def test_gc_purges_deleted_and_keeps_every_referenced_blob(
    client: labline.Client, tmp_path: Path
) -> None:
    (tmp_path / "shared.txt").write_text("kept: a live run logged the same bytes")
    (tmp_path / "only-trash.txt").write_text("goes: only a deleted run references it")
    (tmp_path / "in-flight.txt").write_text("kept: a running run references it")
    # experiment "keep": a finished run with an artifact and predictions on a data set
    with client.start_run("keep", capture_env=False) as live:
        (shared,) = live.log_artifact(tmp_path / "shared.txt")
        _predict_and_log(live, seed=1)
    # experiment "trash": the same artifact and predictions, plus its own artifact
    with client.start_run("trash", capture_env=False) as trash:
        trash.log_artifact(tmp_path / "shared.txt")
        (only,) = trash.log_artifact(tmp_path / "only-trash.txt")
        (in_flight,) = trash.log_artifact(tmp_path / "in-flight.txt")
        _predict_and_log(trash, seed=1)  # identical predictions: one blob, two references
        _predict_and_log_other = trash.log_predictions(
            "other", np.arange(5), Y[:5], Y[:5]
        )  # only the deleted run references this one
    with client.start_run("trash", parent=trash, capture_env=False) as child_of_trash:
        pass
    # experiment "shipped": a run whose model is in production
    with client.start_run("shipped", capture_env=False) as shipped:
        mv = shipped.log_model(_fit(), "iris", input_example=X[:2], eval_inputs=X[:20])
    client.promote("iris", mv.version, "production", skip_parity=True, reason="test")
    manifest = client.get_manifest(mv.digest)
    # a running run still writing: it references the in-flight file
    running = client.start_run("keep", capture_env=False)
    running.log_artifact(tmp_path / "in-flight.txt")
    dataset_blob = client.list_predictions(live.id)[0].blob_digest
    assert client.get_predictions_record(trash.id, "test").blob_digest == dataset_blob
    fresh_orphan = client.blobs.put_bytes(b"written a moment ago, not recorded yet")
    try:
        client.delete_experiment("trash")
        client.delete_experiment("shipped")

        dry = client.gc(dry_run=True, grace=0)
        assert dry.dry_run and set(dry.runs_purged) == {trash.id, child_of_trash.id}
        assert dry.blobs_removed >= 2 and _blob(client, only.digest)
        assert client.get_run(trash.id)  # nothing changed

        report = client.gc()  # the default grace keeps blobs written in the last hour
        assert set(report.runs_purged) == {trash.id, child_of_trash.id}
        assert report.experiments_purged == ("trash",)
        assert report.runs_kept == (shipped.id,)  # a model version links to it
        assert report.blobs_removed == 0 and _blob(client, only.digest)
        with pytest.raises(NotFoundError):
            client.get_run(trash.id)

        report = client.gc(grace=0)
        assert report.runs_purged == () and report.blobs_removed == 3
        assert report.bytes_freed > 0
        assert not _blob(client, only.digest)
        assert not _blob(client, _predict_and_log_other.blob_digest)
        assert not _blob(client, fresh_orphan)
        assert _blob(client, shared.digest)  # a live run's artifact
        assert _blob(client, dataset_blob)  # a live run's predictions on a data set
        assert _blob(client, in_flight.digest)  # a running run's artifact
        for f in manifest.files:  # every file of the model version
            assert _blob(client, f.sha256), f.path
        assert _blob(client, mv.digest)
        assert [e.name for e in client.list_experiments(include_deleted=True)] == [
            "keep",
            "shipped",
        ]
    finally:
        running.end()
    # the model in production still loads from the store and is still served
    shutil.rmtree(Path(client.settings.home) / "packages", ignore_errors=True)
    model = client.load_model("iris@production")
    np.testing.assert_array_equal(model.predict(X[:10]), _fit().predict(X[:10]))
    status, body, digest = _serve_predict(client, "iris@production")
    assert status == 200 and len(body["predictions"]) == 3 and digest == mv.digest
    assert client.gc(grace=0).blobs_removed == 0  # nothing left to collect


def test_a_crash_mid_gc_never_leaves_a_row_without_its_blob(
    client: labline.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}")
    with client.start_run("keep", capture_env=False) as live:
        live.log_artifact(tmp_path / "f0.txt")
    with client.start_run("trash", capture_env=False) as trash:
        for i in range(4):
            trash.log_artifact(tmp_path / f"f{i}.txt")
    client.delete_experiment("trash")

    real_delete = client.blobs.delete
    calls: list[str] = []

    def dies_after_one(digest: str) -> None:
        if calls:
            raise StorageError("the machine went down")
        calls.append(digest)
        real_delete(digest)

    monkeypatch.setattr(client.blobs, "delete", dies_after_one)
    with pytest.raises(StorageError):
        client.gc(grace=0)
    # metadata was purged in one transaction before any blob went; every row left has its blob
    with pytest.raises(NotFoundError):
        client.get_run(trash.id)
    assert all(client.blobs.exists(a.digest) for a in client.list_artifacts(live.id))
    monkeypatch.setattr(client.blobs, "delete", real_delete)
    report = client.gc(grace=0)
    assert report.blobs_removed == 2 and report.runs_purged == ()
    assert client.verify_blobs().ok
    assert client.download_artifacts(live.id, dst=tmp_path / "out") == tmp_path / "out"
    assert (tmp_path / "out" / "f0.txt").read_text() == "file 0"


def test_gc_refuses_to_remove_blobs_when_a_package_manifest_is_gone(
    client: labline.Client, tmp_path: Path
) -> None:
    with client.start_run("shipped", capture_env=False) as run:
        mv = run.log_model(_fit(), "iris", input_example=X[:2])
    orphan = client.blobs.put_bytes(b"unreferenced")
    manifest_blob = client.blobs.local_path(mv.digest)
    assert manifest_blob is not None
    manifest_blob.unlink()
    with pytest.raises(labline.IntegrityError, match="manifest"):
        client.gc(grace=0)
    assert client.blobs.exists(orphan)
    with pytest.raises(InvalidArgumentError, match="grace"):
        client.gc(grace=-1)
