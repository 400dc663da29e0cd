"""Compare, curves, hypotheses and models pages in-process: what they show, that viewing only
reads, and that each role can do only what it may."""

from __future__ import annotations

import json

from ui_support import UIHttp, register_models

import labline


def test_compare_from_a_selection_splits_groups_and_reads_only(
    http: UIHttp, ui_client: labline.Client, seeded: dict[str, list[str]]
) -> None:
    h = ui_client.add_hypothesis(
        "b beats a",
        baseline="digits:model=a",
        candidate="digits:model=b",
        metric="accuracy",
        min_effect=0.01,
        seeds=3,
    )
    ids = seeded["a"] + seeded["b"]
    page = http.get("/compare", params={"runs": ",".join(ids)})
    assert page.status_code == 200
    assert "Split the 6 selected runs by &#39;lr&#39;" in page.text or "Split the 6" in page.text
    assert "/compare/result?" in page.text
    result = http.get(
        "/compare/result",
        params={
            "baseline": "digits:model=a",
            "candidate": "digits:model=b",
            "metric": "accuracy",
            "min_effect": "0.01",
            "resamples": "1000",
        },
        headers={"hx-request": "true"},
    )
    assert result.status_code == 200, result.text
    assert 'data-verdict="better"' in result.text
    data = json.loads(result.text.split('id="compare-data">')[1].split("</script>")[0])
    row = data["rows"][0]
    assert row["low"] < row["improvement"] < row["high"] and row["improvement"] > 0
    assert sum(row["histogram"]["counts"]) == 1000
    assert "b beats a" in result.text and ">Evaluate now</button>" in result.text
    # viewing evaluated nothing
    assert not ui_client.get_hypothesis(h.id).status.evaluated
    viewer = http.as_role("viewer").get(
        "/compare/result",
        params={"baseline": "digits:model=a", "candidate": "digits:model=b", "resamples": "500"},
    )
    assert viewer.status_code == 200 and ">Evaluate now</button>" not in viewer.text
    assert http.as_role("viewer").post(f"/hypotheses/{h.id}/evaluate").status_code == 403
    done = http.post(f"/hypotheses/{h.id}/evaluate")
    assert done.status_code == 303
    assert ui_client.get_hypothesis(h.id).status is labline.HypothesisStatus.SUPPORTED
    listing = http.get("/hypotheses")
    assert "evaluated: supported" in listing.text and "registered first" in listing.text


def test_compare_errors_are_shown(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    bad = http.get(
        "/compare/result",
        params={"baseline": "digits:model=a", "candidate": "nope:x=1"},
        headers={"hx-request": "true"},
    )
    assert bad.headers["x-labline-status"] == "404" and "<html" not in bad.text
    assert 'class="error"' in bad.text and "nope" in bad.text
    empty = http.get("/compare")
    assert empty.status_code == 200 and "Pick a baseline" in empty.text


def test_curves_overlay_and_seed_bands(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    ids = seeded["a"] + seeded["b"]
    overlay = http.get("/curves", params={"runs": ",".join(ids[:2]), "metric": "loss"})
    assert overlay.status_code == 200
    sources = json.loads(overlay.text.split('id="curves-sources">')[1].split("</script>")[0])
    assert [s["label"] for s in sources] == ["a-s0", "a-s1"]
    bands = http.get("/curves", params={"runs": ",".join(ids), "metric": "loss", "group": "model"})
    sources = json.loads(bands.text.split('id="curves-sources">')[1].split("</script>")[0])
    assert len(sources) == 2 and "model=a (3 runs)" in sources[0]["label"]
    band = http.get(sources[0]["src"] + "&buckets=30").json()
    assert band["total_runs"] == 3 and band["n_runs"] == [3] * 30
    assert all(
        lo <= m <= hi for lo, m, hi in zip(band["low"], band["mean"], band["high"], strict=True)
    )
    assert http.get("/curves").status_code == 200  # empty state
    bad = http.get("/curves", params={"runs": ids[0], "metric": "nope"})
    assert bad.status_code == 400


def test_models_timeline_promotion_and_roles(http: UIHttp, ui_client: labline.Client) -> None:
    name = register_models(ui_client)
    listing = http.get("/models")
    assert listing.status_code == 200 and "iris" in listing.text
    viewer = http.as_role("viewer")
    page = viewer.get(f"/models/{name}")
    assert page.status_code == 200 and "v2" in page.text
    assert "promote-button" not in page.text and "Check parity" not in page.text
    refused = viewer.post(f"/models/{name}/promote", data={"version": "2", "alias": "production"})
    assert refused.status_code == 403
    researcher = http.as_role("researcher")
    assert (
        researcher.post(
            f"/models/{name}/promote", data={"version": "2", "alias": "production"}
        ).status_code
        == 403
    )
    engineer = http.as_role("engineer")
    before = engineer.post(f"/models/{name}/versions/2/parity")
    assert (
        before.status_code == 200 and "parity ok" in before.text and "nothing moved" in before.text
    )
    assert ui_client.list_aliases(name) == []
    moved = engineer.post(
        f"/models/{name}/promote",
        data={"version": "2", "alias": "production", "reason": "better on held-out data"},
    )
    assert moved.status_code == 200, moved.text
    assert 'id="promotion-result"' in moved.text and "parity ok" in moved.text
    assert "engineer-user" in moved.text and "better on held-out data" in moved.text
    assert [a.version for a in ui_client.list_aliases(name)] == [2]
    diff = viewer.get(f"/models/{name}/diff", params={"a": "1", "b": "2"})
    assert diff.status_code == 200 and "C" in diff.text
    assert viewer.get("/models/nope").status_code == 404
    bad = engineer.post(f"/models/{name}/promote", data={"version": "x", "alias": "p"})
    assert bad.status_code == 400 and "version" in bad.text
