"""``/api/v1`` end to end in-process: every Client use case through the per-request client,
with the answers checked against what Client itself returns."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server_support import ASGIClient, bearer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from labline.server import Role, ServerSettings, create_app

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labline.Client]:
    """Two configurations × 3 seeds with per-example predictions, an artifact, a hypothesis
    and a registered model (version 1 and 2)."""
    home = tmp_path_factory.mktemp("server-api")
    client = labline.Client(labline.Settings.local(home))
    rng = np.random.default_rng(0)
    ids = np.arange(len(Y))
    for model, acc in (("a", 0.7), ("b", 0.9)):
        for seed in range(3):
            with client.start_run(
                "iris", params={"model": model, "seed": seed}, capture_env=False
            ) as run:
                for step in range(5):
                    run.log_metric("loss", 1.0 / (step + 1) + seed * 0.01, step=step)
                right = rng.random(len(Y)) < acc
                pred = np.where(right, Y, (Y + 1) % 3)
                run.log_predictions("iris-test", ids, Y, pred)
                run.log_metric("accuracy", float(right.mean()))
    (home / "notes.txt").write_text("hello artifacts\n")
    with client.start_run("iris", name="with-model", capture_env=False) as run:
        run.log_artifact(home / "notes.txt", "docs/notes.txt")
        for c in (1.0, 0.5):
            fitted = LogisticRegression(C=c, max_iter=500).fit(X, Y)
            run.log_model(
                fitted, name="iris-clf", input_example=X[:3], eval_inputs=X[:40], path=f"m{c}"
            )
    client.add_hypothesis(
        "b beats a",
        baseline="iris:model=a",
        candidate="iris:model=b",
        metric="accuracy",
        min_effect=0.01,
        seeds=3,
    )
    yield client
    client.close()


@pytest.fixture
def api(populated: labline.Client) -> Iterator[ASGIClient]:
    http = ASGIClient(create_app(populated, ServerSettings()))
    yield http
    http.close()


def test_experiments_and_run_search(api: ASGIClient, populated: labline.Client) -> None:
    assert [e["name"] for e in api.get("/api/v1/experiments").json()] == ["iris"]
    assert api.get("/api/v1/experiments/iris").json()["id"] == 1
    assert api.get("/api/v1/experiments/1").json()["name"] == "iris"
    page = api.get(
        "/api/v1/runs",
        params={
            "experiment": "iris",
            "filter": "params.model = 'b'",
            "order_by": "metrics.accuracy DESC",
            "limit": 2,
        },
    ).json()
    expected = populated.search_runs(
        "iris", filter="params.model = 'b'", order_by="metrics.accuracy DESC", limit=2
    )
    assert [r["id"] for r in page["runs"]] == [r.id for r in expected]
    assert page["next_page_token"] == expected.next_page_token is not None
    rest = api.post(
        "/api/v1/runs/search",
        json={
            "experiment": "iris",
            "filter": "params.model = 'b'",
            "order_by": ["metrics.accuracy DESC"],
            "limit": 2,
            "page_token": page["next_page_token"],
        },
    ).json()
    assert len(rest["runs"]) == 1 and rest["next_page_token"] is None
    bad = api.get("/api/v1/runs", params={"filter": "params.lr >>> 1"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "InvalidArgumentError"
    run = expected[0]
    got = api.get(f"/api/v1/runs/{run.id}").json()
    assert got["params"] == dict(run.params) and got["metrics"]["loss"]["count"] == 5
    assert api.get("/api/v1/runs/find", params={"ref": run.id[:8]}).json()["id"] == run.id
    assert api.get("/api/v1/runs/find", params={"ref": "nope"}).status_code == 404
    series = api.get(f"/api/v1/runs/{run.id}/metrics/loss").json()
    assert series["steps"] == [0, 1, 2, 3, 4]
    assert series["values"] == populated.get_metric_series(run.id, "loss").values.tolist()
    preds = api.get(f"/api/v1/runs/{run.id}/predictions").json()
    assert [p["dataset"] for p in preds] == ["iris-test"]
    datasets = api.get(f"/api/v1/runs/{run.id}/datasets").json()
    assert [(d["name"], d["kind"]) for d in datasets] == [("iris-test", "labels")]
    missing = api.get("/api/v1/runs/" + "0" * 32)
    assert missing.status_code == 404 and "0" * 32 in missing.json()["error"]["message"]


def test_run_lifecycle(api: ASGIClient, populated: labline.Client) -> None:
    run = populated.find_run("with-model")
    assert api.patch(f"/api/v1/runs/{run.id}", json={"name": "renamed"}).json()["name"] == (
        "renamed"
    )
    assert api.put(f"/api/v1/runs/{run.id}/tags/stage/x", json={"value": "final"}).json()[
        "tags"
    ] == {"stage/x": "final"}
    assert api.delete(f"/api/v1/runs/{run.id}/tags/stage/x").json()["tags"] == {}
    gone = api.delete(f"/api/v1/runs/{run.id}").json()
    assert gone["deleted_by"] == populated.actor
    assert run.id not in [r["id"] for r in api.get("/api/v1/runs?limit=100").json()["runs"]]
    assert api.post(f"/api/v1/runs/{run.id}/restore").json()["deleted_at"] is None
    api.patch(f"/api/v1/runs/{run.id}", json={"name": "with-model"})
    not_stale = api.post(f"/api/v1/runs/{run.id}/mark-failed", json={})
    assert not_stale.status_code == 400 and "stale" in not_stale.json()["error"]["message"]
    assert api.get(f"/api/v1/runs/{run.id}/children").json() == []
    typo = api.patch(f"/api/v1/runs/{run.id}", json={"nmae": "x"})
    assert typo.status_code == 400 and typo.json()["error"]["field"] == "name"
    assert "1 more problem" in typo.json()["error"]["message"]
    extra = api.patch(f"/api/v1/runs/{run.id}", json={"name": "with-model", "nmae": "x"})
    assert extra.status_code == 400 and extra.json()["error"]["field"] == "nmae"


def test_artifacts_list_and_verified_download(
    api: ASGIClient, populated: labline.Client, tmp_path: Path
) -> None:
    run = populated.find_run("with-model")
    listed = api.get(f"/api/v1/runs/{run.id}/artifacts", params={"path": "docs"}).json()
    assert [a["path"] for a in listed] == ["docs/notes.txt"]
    r = api.get(f"/api/v1/runs/{run.id}/artifacts/docs/notes.txt")
    assert r.status_code == 200 and r.content == b"hello artifacts\n"
    assert r.headers["x-labline-digest"].endswith(hashlib.sha256(r.content).hexdigest())
    # percent-encoded, so the client does not normalise them away before the server sees them
    for bad in ("docs/%2E%2E/%2E%2E/etc/passwd", "%2Fetc/passwd", "docs/%2E/notes.txt"):
        refused = api.get(f"/api/v1/runs/{run.id}/artifacts/{bad}")
        assert refused.status_code == 400, bad
        assert "root:" not in refused.text
    refused = api.get(f"/api/v1/runs/{run.id}/artifacts", params={"path": "../x"})
    assert refused.status_code == 400 and "'..'" in refused.json()["error"]["message"]
    assert api.get(f"/api/v1/runs/{run.id}/artifacts/docs/none.txt").status_code == 404


def test_compare_reads_and_evaluation_is_explicit(
    api: ASGIClient, populated: labline.Client
) -> None:
    body = {
        "baseline": "iris:model=a",
        "candidate": ["iris:model=b"],
        "metric": "accuracy",
        "n_resamples": 1000,
    }
    r = api.post("/api/v1/compare", json=body)
    assert r.status_code == 200, r.text
    report = r.json()["report"]
    assert report["comparisons"][0]["analysis"]["difference"] > 0
    local = populated.compare(
        "iris:model=a", "iris:model=b", "accuracy", n_resamples=1000, evaluate_hypotheses=False
    )
    assert report["comparisons"][0]["analysis"]["difference"] == pytest.approx(
        local.comparisons[0].analysis.difference
    )
    [h] = api.get("/api/v1/hypotheses").json()
    assert h["status"] == "waiting for runs"  # viewing a comparison evaluated nothing
    evaluated = api.post(f"/api/v1/hypotheses/{h['id']}/evaluate").json()
    assert evaluated["status"] != "waiting for runs" and evaluated["evaluated_at"]
    refused = api.post("/api/v1/compare", json={**body, "metric": "os:system"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "metric"
    assert api.get("/api/v1/hypotheses/99999999999999999999").status_code in (400, 404)


def test_hypotheses_add_revise_progress(api: ASGIClient) -> None:
    made = api.post(
        "/api/v1/hypotheses",
        json={
            "statement": "c beats a",
            "baseline": "iris:model=a",
            "candidate": "iris:model=c",
            "metric": "accuracy",
            "min_effect": 0.02,
        },
    )
    assert made.status_code == 201 and made.json()["created_by"]
    hid = made.json()["id"]
    progress = api.get(f"/api/v1/hypotheses/{hid}/progress").json()
    assert progress["baseline_runs"] == 3 and progress["candidate_runs"] == 0
    revised = api.post(f"/api/v1/hypotheses/{hid}/revise", json={"min_effect": 0.05}).json()
    assert revised["supersedes"] == hid and revised["min_effect"] == 0.05
    assert api.post(f"/api/v1/hypotheses/{hid}/revise", json={}).status_code == 400


def test_models_registry_and_promotion_through_the_parity_gate(
    api: ASGIClient, populated: labline.Client, tmp_path: Path
) -> None:
    models = api.get("/api/v1/models").json()
    assert [(m["name"], m["latest_version"]) for m in models] == [("iris-clf", 2)]
    versions = api.get("/api/v1/models/iris-clf/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    one = api.get("/api/v1/models/iris-clf/versions/1").json()
    assert one["digest"] == populated.get_model_version("iris-clf", 1).digest
    manifest = api.get("/api/v1/models/iris-clf/versions/1/manifest").json()
    assert manifest["files"]
    assert api.get("/api/v1/models/iris-clf/diff", params={"a": 1, "b": 2}).json()["a"] == 1
    # engineers promote; the server replays the parity record before moving the alias
    client = populated
    secret = client.create_token("eve", Role.ENGINEER).secret
    researcher = client.create_token("rita", Role.RESEARCHER).secret
    try:
        denied = api.post(
            "/api/v1/models/iris-clf/versions/2/promote",
            json={"alias": "production"},
            headers=bearer(researcher),
        )
        assert denied.status_code == 403
        promoted = api.post(
            "/api/v1/models/iris-clf/versions/2/promote",
            json={"alias": "production", "reason": "better"},
            headers=bearer(secret),
        )
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["event"]["actor"] == "eve"
        assert promoted.json()["parity"]["passed"] is True
        skip = api.post(
            "/api/v1/models/iris-clf/versions/1/promote",
            json={"alias": "staging", "skip_parity": True, "reason": "x"},
            headers=bearer(secret),
        )
        assert skip.status_code == 403 and "admin" in skip.json()["error"]["message"]
        hist = api.get(
            "/api/v1/models/iris-clf/history",
            params={"alias": "production"},
            headers=bearer(secret),
        ).json()
        assert [(e["to_version"], e["actor"]) for e in hist] == [(2, "eve")]
        assert client.alias_history("iris-clf", "production")[0].actor == "eve"
        resolved = api.get(
            "/api/v1/models/resolve",
            params={"ref": "iris-clf@production"},
            headers=bearer(secret),
        ).json()
        assert resolved["version"] == 2
        for ref in ("/etc", "../x", "a/b/c", "iris-clf/x"):
            r = api.get("/api/v1/models/resolve", params={"ref": ref}, headers=bearer(secret))
            assert r.status_code == 400, ref
        assert (
            api.get("/api/v1/models/iris-clf/aliases", headers=bearer(secret)).json()[0]["alias"]
            == "production"
        )
        assert api.post("/api/v1/models/verify", headers=bearer(secret)).json()["ok"] is True
        reg = api.post(
            "/api/v1/models/register",
            json={"source": f"{client.find_run('with-model').id}/m1.0", "name": "iris-copy"},
            headers=bearer(researcher),
        )
        assert reg.status_code == 201 and reg.json()["created_by"] == "rita"
    finally:
        client.revoke_token("eve")
        client.revoke_token("rita")


def test_gc_is_for_admins(api: ASGIClient) -> None:
    dry = api.post("/api/v1/gc", json={"dry_run": True})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
