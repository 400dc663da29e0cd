"""The web UI's pages in-process (httpx ASGI transport): what each shows, its errors, its
escaping, and who may do what."""

from __future__ import annotations

from ui_support import UIHttp

import labline


def test_runs_table_lists_filters_and_sorts(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    page = http.get("/runs", params={"experiment": "digits"})
    assert page.status_code == 200
    for name in ("a-s0", "a-s2", "b-s1"):
        assert name in page.text
    filtered = http.get("/runs", params={"filter": "params.model = 'b'"})
    assert filtered.status_code == 200
    assert "b-s0" in filtered.text and "a-s0" not in filtered.text
    ordered = http.get(
        "/runs", params={"order": "metrics.accuracy DESC", "cols": "metrics.accuracy"}
    )
    text = ordered.text
    assert text.index("b-s2") < text.index("b-s0") < text.index("a-s2") < text.index("a-s0")


def test_bad_filter_is_a_400_naming_the_problem(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    page = http.get("/runs", params={"filter": "params.model = = 'b'"})
    assert page.status_code == 400
    assert 'class="error"' in page.text and "column" in page.text
    partial = http.get("/runs", params={"filter": "nonsense >"}, headers={"hx-request": "true"})
    # htmx swaps only 2xx answers: the fragment carries the error and its status in a header
    assert partial.headers["x-labline-status"] == "400" and "<html" not in partial.text
    assert 'class="error"' in partial.text
    assert http.get("/runs", params={"limit": "0"}).status_code == 400
    assert http.get("/runs", params={"cols": "bogus"}).status_code == 400


def test_runs_paging_and_group_by_param(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    first = http.get("/runs", params={"limit": "4", "order": "attributes.name"})
    assert first.status_code == 200
    assert "a-s0" in first.text and "b-s1" not in first.text
    assert 'rel="next"' in first.text
    next_href = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = http.get("/runs" + next_href.replace("&amp;", "&"))
    assert "b-s1" in second.text and "a-s0" not in second.text and 'rel="prev"' in second.text
    grouped = http.get("/runs", params={"group": "model", "cols": "metrics.accuracy"})
    assert grouped.status_code == 200
    table = grouped.text.split('id="groups"')[1].split("</table>")[0]
    # mean of 0.85, 0.86, 0.87 with its t interval over 3 seeds
    assert "0.86" in table and "n=3" in table and "±" in table


def test_run_page_shows_everything_logged(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    run_id = seeded["b"][0]
    page = http.get(f"/runs/{run_id}")
    assert page.status_code == 200
    text = page.text
    for expected in ("b-s0", "loss", "accuracy", "model", "Confusion matrix", "Worst examples"):
        assert expected in text
    assert f"/ui-api/runs/{run_id}/metrics/loss" in text
    assert http.get("/runs/" + "0" * 32).status_code == 404


def test_metric_data_is_an_envelope_and_zooms(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    run_id = seeded["a"][0]
    full = http.get(f"/ui-api/runs/{run_id}/metrics/loss", params={"buckets": "50"}).json()
    assert full["n_points"] == 300 and full["n_buckets"] == 50 and not full["exact"]
    assert full["high"][0] == 1.0  # exp(0): the first bucket's max
    zoom = http.get(
        f"/ui-api/runs/{run_id}/metrics/loss", params={"buckets": "50", "min": "10", "max": "40"}
    ).json()
    assert zoom["exact"] and zoom["n_points"] == 31 and zoom["x"][0] == 10
    bad = http.get(f"/ui-api/runs/{run_id}/metrics/loss", params={"buckets": "x"})
    assert bad.status_code == 400 and "buckets" in bad.json()["error"]["message"]
    missing = http.get(f"/ui-api/runs/{run_id}/metrics/nope")
    assert missing.status_code == 404


def test_values_are_escaped(http: UIHttp, ui_client: labline.Client) -> None:
    with ui_client.start_run(
        "xss", name="<script>alert(1)</script>", params={"p": "<b>x</b>"}, capture_env=False
    ) as run:
        run.log_metric("m", 1.0)
    page = http.get("/runs", params={"cols": "params.p"})
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<b>x</b>" not in page.text
    assert "&lt;script&gt;" in http.get(f"/runs/{run.id}").text


def test_without_a_principal_the_login_page_answers(
    http: UIHttp, seeded: dict[str, list[str]]
) -> None:
    anonymous = http.as_role(None)
    page = anonymous.get("/runs")
    assert page.status_code == 401 and 'name="token"' in page.text and "a-s0" not in page.text
    data = anonymous.get(f"/ui-api/runs/{seeded['a'][0]}/metrics/loss")
    assert data.status_code == 401
    login = anonymous.post("/login", data={"token": "secret-token", "next": "/runs?x=1"})
    assert login.status_code == 303 and login.headers["location"] == "/runs?x=1"
    cookie = login.headers["set-cookie"].lower()
    assert "labline_token=secret-token" in cookie
    assert "httponly" in cookie and "samesite=strict" in cookie
    evil = anonymous.post("/login", data={"token": "t", "next": "//evil.example/"})
    assert evil.headers["location"] == "/runs"
    refused = anonymous.get("/runs", headers={"cookie": "labline_token=revoked"})
    assert refused.status_code == 401 and "not accepted" in refused.text


def test_a_run_page_fetches_its_charts_in_one_request(
    http: UIHttp, seeded: dict[str, list[str]]
) -> None:
    run_id = seeded["a"][0]
    page = http.get(f"/runs/{run_id}")
    assert f'data-batch="/ui-api/runs/{run_id}/metrics"' in page.text
    both = http.get(
        f"/ui-api/runs/{run_id}/metrics",
        params=[("key", "loss"), ("key", "accuracy"), ("buckets", "50")],
    ).json()["series"]
    assert both["loss"]["n_points"] == 300 and both["loss"]["n_buckets"] == 50
    assert both["accuracy"]["exact"] and both["accuracy"]["n_points"] == 1
    assert http.get(f"/ui-api/runs/{run_id}/metrics").status_code == 400  # no key
    too_many = [("key", f"k{i}") for i in range(51)]
    refused = http.get(f"/ui-api/runs/{run_id}/metrics", params=too_many)
    assert refused.status_code == 400 and "key" in refused.json()["error"]["message"]
    assert http.get(f"/ui-api/runs/{run_id}/metrics", params={"key": "nope"}).status_code == 404


def test_static_files_are_versioned_and_cached(http: UIHttp, seeded: dict[str, list[str]]) -> None:
    page = http.get("/runs").text
    src = page.split('<script src="')[2].split('"')[0]
    assert src.startswith("/static/labline.js?v=")
    cached = http.get(src)
    assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]
    plain = http.get("/static/labline.js")
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"]


def test_a_million_point_series_is_sent_as_one_envelope_per_pixel(
    http: UIHttp, ui_client: labline.Client
) -> None:
    import numpy as np

    values = np.sin(np.arange(1_000_000) / 5000.0)
    values[654_321] = 50.0  # one spike among a million points
    with ui_client.start_run("long", capture_env=False) as run:
        run.log_metric_series("signal", values, steps=np.arange(1_000_000))
    page = http.get(f"/runs/{run.id}")
    assert "1000000 points" in page.text
    env = http.get(f"/ui-api/runs/{run.id}/metrics/signal", params={"buckets": "800"}).json()
    assert env["n_points"] == 1_000_000 and env["n_buckets"] == 800 and not env["exact"]
    assert len(env["x"]) == len(env["high"]) == 800
    assert max(env["high"]) == 50.0  # the spike survives the downsampling
    assert min(env["low"]) == values.min() and max(h for h in env["high"] if h < 50) <= 1.0


def test_a_model_before_its_first_version_has_a_page_with_its_card(
    http: UIHttp, ui_client: labline.Client
) -> None:
    ui_client.create_model("later", description="<i>digits</i>, next quarter", tags={"team": "cv"})
    assert "later" in http.get("/models").text
    page = http.get("/models/later")
    assert page.status_code == 200 and 'id="no-versions"' in page.text
    assert "&lt;i&gt;digits&lt;/i&gt;, next quarter" in page.text and "team=cv" in page.text
    assert http.get("/models/nothing-here").status_code == 404
    assert "later/None" not in http.get("/monitoring").text
