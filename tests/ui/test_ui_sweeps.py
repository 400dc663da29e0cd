"""The sweeps pages in-process: the list, one sweep (parallel coordinates, expected best
against budget, trials), and two sweeps compared at equal budget."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from ui_support import UIHttp, seed_sweeps

import labline


def _data(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text.split('id="sweep-data">')[1].split("</script>")[0])
    return data


def test_sweeps_list_and_one_sweep(http: UIHttp, ui_client: labline.Client) -> None:
    assert "No sweeps yet" in http.get("/sweeps").text
    wide, _ = seed_sweeps(ui_client)
    listing = http.get("/sweeps")
    assert listing.status_code == 200 and wide in listing.text and "complete 20" in listing.text
    assert 'href="/sweeps"' in listing.text  # the nav links the page
    sweep = ui_client.sweeps.get(wide)
    page = http.get(f"/sweeps/{wide}")
    assert page.status_code == 200 and page.text == http.get(f"/sweeps/{sweep.id}").text
    data = _data(page.text)
    parallel = data["parallel"]
    assert [a["name"] for a in parallel["axes"]] == ["lr", "depth", "kind", "value"]
    assert parallel["axes"][0]["type"] == "log" and parallel["axes"][2]["data"] == [
        "tree",
        "linear",
    ]
    assert len(parallel["rows"]) == 20
    trials = ui_client.sweeps.trials(sweep.id)
    first = next(r for r in parallel["rows"] if r["trial"] == 0)["value"]
    assert (
        first[0] == trials[0].params["lr"].internal and first[2] == trials[0].params["kind"].display
    )
    assert first[3] == trials[0].values[0]  # type: ignore[index]
    (curve,) = data["curves"]
    assert curve["budgets"] == list(range(1, 21))
    est = curve["estimate"]
    assert all(a <= b + 1e-12 for a, b in pairwise(est))  # more trials, a better best
    best = max(t.values[0] for t in trials if t.values)
    assert abs(est[-1] - best) < 1e-9 and est[0] < best
    assert all(lo <= e <= hi for lo, e, hi in zip(curve["low"], est, curve["high"], strict=True))
    assert 'id="best-trial"' in page.text and f"{best:.6g}" in page.text
    assert page.text.count('<tr><td><a href="/runs/') == 20
    assert http.get("/sweeps/nope").status_code == 404


def test_two_sweeps_compared_at_equal_budget(http: UIHttp, ui_client: labline.Client) -> None:
    wide, narrow = seed_sweeps(ui_client)
    page = http.get("/sweeps/compare", params={"baseline": wide, "candidate": narrow})
    assert page.status_code == 200, page.text
    assert 'data-verdict="better"' in page.text and "20 and 20 complete trials" in page.text
    data = _data(page.text)
    assert [c["label"] for c in data["curves"]] == [wide, narrow] and data["budget"] == 20
    # Optuna records each trial's start and end: the same comparison in compute time
    timed = http.get(
        "/sweeps/compare", params={"baseline": wide, "candidate": narrow, "unit": "seconds"}
    )
    assert timed.status_code == 200, timed.text
    curves = _data(timed.text)["curves"]
    assert all(len(c["seconds"]) == 20 and c["seconds"][0] > 0 for c in curves)
    at5 = http.get("/sweeps/compare", params={"baseline": wide, "candidate": narrow, "budget": "5"})
    assert _data(at5.text)["budget"] == 5 and "budget of <strong>5 trials" in at5.text
    beyond = http.get(
        "/sweeps/compare", params={"baseline": wide, "candidate": narrow, "budget": "500"}
    )
    assert beyond.status_code == 400 and "budget" in beyond.text
    bad = http.get("/sweeps/compare", params={"baseline": wide, "candidate": narrow, "unit": "x"})
    assert bad.status_code == 400 and "unit" in bad.text
    missing = http.get("/sweeps/compare", params={"baseline": wide, "candidate": "nope"})
    assert missing.status_code == 404
    assert http.get("/sweeps/compare").status_code == 200  # the form alone


def test_sweeps_that_optimize_in_opposite_directions_are_refused(
    http: UIHttp, ui_client: labline.Client
) -> None:
    """The rule is the service's (``client.compare_sweeps``), so the page and the CLI agree."""
    wide, _ = seed_sweeps(ui_client)
    loss = ui_client.sweeps.create("loss-search", directions=["minimize"])
    for v in (0.3, 0.2):
        t = ui_client.sweeps.create_trial(loss.id)
        ui_client.sweeps.set_state(t.id, labline.TrialState.COMPLETE, [v])
    page = http.get("/sweeps/compare", params={"baseline": wide, "candidate": "loss-search"})
    assert page.status_code == 400 and "opposite directions" in page.text
    with pytest.raises(labline.InvalidArgumentError, match="opposite directions"):
        ui_client.compare_sweeps(wide, "loss-search")
    assert ui_client.compare_sweeps(wide, "loss-search", higher_is_better=True).metric == "value"
