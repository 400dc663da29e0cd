"""The read endpoints of ``/api/v1`` beyond runs and models: selections, groups, chart series,
prediction sets, calibrations, aliases in the past, parity checks, sweeps, the review queue,
labelled datasets and blob verification; each answer checked against what ``Client`` returns."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from server_support import ASGIClient, bearer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from labline.core import to_jsonable
from labline.server import Role, ServerSettings, _schemas, create_app
from labline.server._api_sweeps import trial_out

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labline.Client]:
    """Two configurations x 2 seeds with predictions, a registered and calibrated model, a
    reviewed queue with a labelled dataset, and a sweep of three trials."""
    home = tmp_path_factory.mktemp("server-reads")
    client = labline.Client(labline.Settings.local(home))
    rng = np.random.default_rng(0)
    ids = np.arange(len(Y))
    for model, acc in (("a", 0.7), ("b", 0.9)):
        for seed in range(2):
            with client.start_run(
                "iris", params={"model": model, "seed": seed}, capture_env=False
            ) as run:
                for step in range(50):
                    run.log_metric("loss", 1.0 / (step + 1) + seed * 0.01, step=step)
                right = rng.random(len(Y)) < acc
                proba = np.full((len(Y), 3), 0.1)
                pred = np.where(right, Y, (Y + 1) % 3)
                proba[ids, pred] = 0.8
                run.log_predictions("iris-test", ids, Y, pred, y_proba=proba)
                run.log_metric("accuracy", float(right.mean()))
    with client.start_run("iris", name="with-model", capture_env=False) as run:
        fitted = LogisticRegression(max_iter=500).fit(X[::2], Y[::2])
        run.log_model(fitted, name="iris-clf", input_example=X[:3], eval_inputs=X[:30])
    client.promote("iris-clf", 1, "production", skip_parity=True, reason="first")
    client.calibrate("iris-clf/1", (X[1::2], Y[1::2]), target_error=0.2)
    version = client.get_model_version("iris-clf", 1)
    drafts = [
        labline.ReviewItemDraft(
            model_name="iris-clf",
            model_version=1,
            model_digest=version.digest,
            calibration_id=None,
            inputs=[float(v) for v in X[i]],
            guess=int(Y[i]),
            confidence=0.5 + i / 100,
            margin=0.1,
            reason="deferred",
            request_id=f"req-{i}",
            created_at=datetime.now(UTC),
        )
        for i in range(4)
    ]
    item_ids = client.enqueue_review_items(drafts)
    reviewer = client.as_actor("rita")
    for item_id in item_ids[:3]:
        reviewer.claim_review_item(item_id)
        reviewer.label_review_item(item_id, 1)
    client.create_labelled_dataset("iris-reviewed")
    import optuna

    from labline.optuna import Storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="lr-sweep", storage=Storage(client))
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
    yield client
    client.close()


@pytest.fixture
def api(world: labline.Client) -> Iterator[ASGIClient]:
    http = ASGIClient(create_app(world, ServerSettings()))
    yield http
    http.close()


def _wire(shape: type[Any], obj: object) -> Any:
    """What the API sends for ``obj`` (datetimes as pydantic writes them)."""
    if isinstance(obj, list):
        return [_wire(shape, o) for o in obj]
    return shape.model_validate(to_jsonable(obj)).model_dump(mode="json")


def _ok(r: object) -> Any:
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    return r.json()  # type: ignore[attr-defined]


def test_select_and_group_runs(api: ASGIClient, world: labline.Client) -> None:
    picked = _ok(api.get("/api/v1/runs/select", params={"selector": "iris:model=b"}))
    assert [r["id"] for r in picked] == [r.id for r in world.select_runs("iris:model=b")]
    assert len(picked) == 2
    groups = _ok(
        api.get(
            "/api/v1/runs/groups",
            params={"experiment": "iris", "by": "model", "metrics": ["accuracy"]},
        )
    )
    expected = world.group_runs("iris", by="model", metrics=["accuracy"])
    assert groups == to_jsonable(expected)
    assert {g["value"] for g in groups} == {"a", "b", None}
    bad = api.get("/api/v1/runs/select", params={"selector": "iris:model"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "InvalidArgumentError"


def test_envelope_and_seed_band(api: ASGIClient, world: labline.Client) -> None:
    run_ids = [r.id for r in world.select_runs("iris:model=a")]
    env = _ok(api.get(f"/api/v1/runs/{run_ids[0]}/envelope", params={"key": "loss", "buckets": 10}))
    assert env == to_jsonable(world.metric_envelope(run_ids[0], "loss", buckets=10))
    assert env["n_points"] == 50 and len(env["x"]) <= 10
    band = _ok(api.get("/api/v1/runs/seed-band", params={"run_ids": run_ids, "key": "loss"}))
    assert band == to_jsonable(world.seed_band(run_ids, "loss"))
    assert band["total_runs"] == 2
    missing = api.get(f"/api/v1/runs/{run_ids[0]}/envelope", params={"key": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def test_prediction_sets(api: ASGIClient, world: labline.Client) -> None:
    run_id = world.select_runs("iris:model=b")[0].id
    record = _ok(api.get(f"/api/v1/runs/{run_id}/predictions/iris-test"))
    assert record == _wire(
        _schemas.PredictionsOut, world.get_predictions_record(run_id, "iris-test")
    )
    raw = api.get(f"/api/v1/runs/{run_id}/predictions/iris-test/file")
    assert raw.status_code == 200
    assert raw.headers["x-labline-digest"] == record["blob_digest"]
    table = pq.read_table(io.BytesIO(raw.content))
    assert table.equals(world.load_predictions(run_id, "iris-test"))
    summary = _ok(
        api.get(f"/api/v1/runs/{run_id}/predictions/iris-test/summary", params={"worst": 3})
    )
    assert summary == to_jsonable(world.predictions_summary(run_id, "iris-test", worst=3))
    assert len(summary["worst"]) == 3
    gone = api.get(f"/api/v1/runs/{run_id}/predictions/other")
    assert gone.status_code == 404 and "other" in gone.json()["error"]["message"]


def test_calibrations_of_a_version(api: ASGIClient, world: labline.Client) -> None:
    listed = _ok(api.get("/api/v1/models/iris-clf/versions/1/calibrations"))
    assert listed == _wire(_schemas.CalibrationOut, world.list_calibrations("iris-clf/1"))
    current = _ok(api.get("/api/v1/models/iris-clf/versions/1/calibration"))
    assert current == _wire(_schemas.CalibrationOut, world.current_calibration("iris-clf", 1))
    assert _ok(api.get(f"/api/v1/calibrations/{current['id']}")) == current
    assert api.get("/api/v1/calibrations/99999").status_code == 404
    assert api.get("/api/v1/models/iris-clf/versions/7/calibrations").status_code == 404


def test_alias_in_the_past_and_a_parity_check(
    api: ASGIClient, world: labline.Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    moved = world.alias_history("iris-clf", "production")[0].at
    before = (moved - timedelta(hours=1)).isoformat()
    after = (moved + timedelta(seconds=1)).isoformat()
    then = _ok(api.get("/api/v1/models/iris-clf/aliases/production/at", params={"at": before}))
    assert then["version"] is None
    now = _ok(api.get("/api/v1/models/iris-clf/aliases/production/at", params={"at": after}))
    assert now["version"] == 1
    manifest = _ok(api.get("/api/v1/models/iris-clf/versions/1/manifest"))
    stored = world.get_manifest(world.get_model_version("iris-clf", 1).digest).to_json()
    assert manifest["files"] == stored["files"] and manifest["adapter"] == stored["adapter"]
    tokens = {
        role: world.create_token(f"parity-{role.value}", role).secret
        for role in (Role.ENGINEER, Role.VIEWER)
    }
    try:
        url = "/api/v1/models/iris-clf/versions/1/parity"
        denied = api.post(url, json={}, headers=bearer(tokens[Role.VIEWER]))
        assert denied.status_code == 403
        report = _ok(api.post(url, json={}, headers=bearer(tokens[Role.ENGINEER])))
        assert report["passed"] is True and report["n"] == 30
        assert report["summary"].startswith("parity ok")
        # a parity check moves no alias
        assert [e.seq for e in world.alias_history("iris-clf")] == [1]
    finally:
        for role in tokens:
            world.revoke_token(f"parity-{role.value}")


def test_sweeps_and_trials(api: ASGIClient, world: labline.Client) -> None:
    sweeps = _ok(api.get("/api/v1/sweeps"))
    assert [s["name"] for s in sweeps] == ["lr-sweep"]
    one = _ok(api.get("/api/v1/sweeps/lr-sweep"))
    assert one == _ok(api.get(f"/api/v1/sweeps/{one['id']}"))
    trials = _ok(api.get("/api/v1/sweeps/lr-sweep/trials"))
    expected = [trial_out(t).model_dump(mode="json") for t in world.sweeps.trials(one["id"])]
    assert trials == expected
    assert [t["number"] for t in trials] == [0, 1, 2]
    complete = _ok(api.get("/api/v1/sweeps/lr-sweep/trials", params={"state": "complete"}))
    assert len(complete) == 3
    bad = api.get("/api/v1/sweeps/lr-sweep/trials", params={"state": "finished"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "state[0]"
    assert api.get("/api/v1/sweeps/nope").status_code == 404


def test_review_queue_and_labelled_datasets(api: ASGIClient, world: labline.Client) -> None:
    items = _ok(api.get("/api/v1/review/items"))
    assert items == _wire(_schemas.ReviewItemOut, world.list_review_items())
    assert [i["status"] for i in items] == ["done", "done", "done", "open"]
    page = _ok(api.get("/api/v1/review/items", params={"after_id": items[1]["id"], "limit": 1}))
    assert [i["id"] for i in page] == [items[2]["id"]]
    first = items[0]["id"]
    assert _ok(api.get(f"/api/v1/review/items/{first}")) == items[0]
    decisions = _ok(api.get(f"/api/v1/review/items/{first}/decisions"))
    assert [(d["reviewer"], d["label"]) for d in decisions] == [("rita", 1)]
    assert _ok(api.get("/api/v1/review/counts")) == world.review_counts()
    stats = _ok(api.get("/api/v1/review/stats", params={"model": "iris-clf"}))
    assert stats == to_jsonable(world.review_stats(model="iris-clf"))
    assert stats["decisions_by_reviewer"] == {"rita": 3}
    assert api.get("/api/v1/review/items/99999").status_code == 404
    datasets = _ok(api.get("/api/v1/datasets"))
    assert [(d["name"], d["version"], d["n_examples"]) for d in datasets] == [
        ("iris-reviewed", 1, 3)
    ]
    assert _ok(api.get("/api/v1/datasets/iris-reviewed")) == datasets[0]
    examples = _ok(api.get("/api/v1/datasets/iris-reviewed/examples", params={"version": 1}))
    assert examples == _wire(
        _schemas.LabelledExampleOut, world.labelled_examples("iris-reviewed", 1)
    )
    assert api.get("/api/v1/datasets/iris-reviewed", params={"version": 9}).status_code == 404


def test_verify_blobs_is_for_admins(api: ASGIClient, world: labline.Client) -> None:
    viewer = world.create_token("blob-viewer", Role.VIEWER).secret
    admin = world.create_token("blob-admin", Role.ADMIN).secret
    try:
        assert api.post("/api/v1/verify-blobs", headers=bearer(viewer)).status_code == 403
        report = _ok(api.post("/api/v1/verify-blobs", headers=bearer(admin)))
        assert report["ok"] is True and report["bad"] == []
        assert report["checked"] == world.verify_blobs().checked > 0
    finally:
        world.revoke_token("blob-viewer")
        world.revoke_token("blob-admin")


def test_the_openapi_document_describes_every_answer_with_a_model(api: ASGIClient) -> None:
    """Every /api/v1 operation answers a pydantic model (a ``$ref`` in its success schema) or
    declares the binary media type it streams; every body it takes is a model too."""
    doc = _ok(api.get("/api/openapi.json"))
    untyped = []
    operations = 0
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            operations += 1
            for status, answer in op["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue  # errors have their own model; a 204 has no body to describe
                content = answer.get("content", {})
                schema = content.get("application/json", {}).get("schema")
                binary = any(t != "application/json" for t in content)
                if not binary and (schema is None or "$ref" not in str(schema)):
                    untyped.append(f"{method.upper()} {path} {status}")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "$ref" not in str(body["schema"]):
                untyped.append(f"{method.upper()} {path} request body")
    assert untyped == []
    assert operations >= 70


def test_review_export_and_a_labelled_dataset_as_parquet(
    api: ASGIClient, world: labline.Client
) -> None:
    tasks = _ok(api.get("/api/v1/review/export"))
    assert tasks["format"] == "label-studio"
    assert tasks["items"] == to_jsonable(list(world.export_review_items()))
    assert len(tasks["items"]) == 1  # one item still pending
    records = _ok(api.get("/api/v1/review/export", params={"format": "jsonl", "status": "all"}))
    assert len(records["items"]) == 4
    bad = api.get("/api/v1/review/export", params={"format": "csv"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "format"
    raw = api.get("/api/v1/datasets/iris-reviewed/table")
    assert raw.status_code == 200
    table = pq.read_table(io.BytesIO(raw.content))
    assert table.equals(world.labelled_dataset_table("iris-reviewed"))
    assert (
        raw.headers["x-labline-fingerprint"]
        == world.get_labelled_dataset("iris-reviewed").fingerprint
    )
