"""The web UI end to end in a real browser: Playwright driving Debian's Chromium against
``labline server`` on 127.0.0.1, logged in with a token through the login page. Each test saves
screenshots under ``test-artifacts/ui/<test>/``; a console error in the browser fails it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import BrowserPage, LiveServer

pytestmark = pytest.mark.slow


def test_runs_table_filters(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["researcher"])
    rows = page.locator("#runs tbody tr")
    expect(page.locator("h1")).to_have_text("Runs")
    assert rows.count() >= 8  # digits, iris and the sweeps' runs, newest first
    bpage.shot("all-runs")
    page.fill("#filter", "params.model = 'b' and metrics.accuracy > 0.855")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(2)
    expect(page.locator("#runs")).to_contain_text("b-s1")
    expect(page.locator("#runs")).not_to_contain_text("a-s0")
    assert "filter=" in page.url  # the view is a link
    bpage.shot("filtered")
    page.fill("#filter", "params.model = = 'b'")
    page.keyboard.press("Enter")
    expect(page.locator("#runs-table .error")).to_contain_text("column")
    bpage.shot("bad-filter-shown")


def test_run_page_draws_charts_with_every_point(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["viewer"])
    page.click("#runs a.run-link:text-is('a-s0')")
    expect(page.locator("h1")).to_contain_text("a-s0")
    loss = page.locator('.chart[data-key="loss"]')
    expect(loss).to_have_attribute("data-state", "drawn")
    # 300 logged steps, fewer than the chart's pixel buckets: every point is drawn as is
    expect(loss).to_have_attribute("data-points", "300")
    expect(loss).to_have_attribute("data-drawn", "300")
    expect(loss).to_have_attribute("data-exact", "true")
    expect(loss.locator("canvas")).to_have_count(1)
    expect(loss.locator(".chart-status")).to_have_text("300 points")
    accuracy = page.locator('.chart[data-key="accuracy"]')
    expect(accuracy).to_have_attribute("data-points", "1")
    bpage.shot("run-page")
    page.check("#log-scale")
    expect(loss).to_have_attribute("data-scale", "log")
    expect(loss).to_have_attribute("data-state", "drawn")
    bpage.shot("log-scale")
    # zoom: drag across the chart; the window is refetched in full detail
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(loss).to_have_attribute("data-window", re.compile(r"^\d+,\d+$"))
    lo, hi = (int(v) for v in (loss.get_attribute("data-window") or "").split(","))
    assert 40 <= lo < hi <= 170
    expect(loss).to_have_attribute("data-points", str(hi - lo + 1))
    bpage.shot("zoomed")
    # parent page, predictions summary
    expect(page.locator("#confusion")).to_be_visible()
    expect(page.locator("#worst tbody tr")).to_have_count(20)


def test_run_artifacts_browse_and_download(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["viewer"])
    bpage.goto(f"/runs/{live.ids['a'][0]}")
    artifacts = page.locator("#artifacts")
    expect(artifacts).to_contain_text("notes.txt")
    artifacts.locator("a", has_text="plots/").click()
    expect(page.locator("#artifacts")).to_contain_text("loss.csv")
    expect(page.locator("#artifacts")).not_to_contain_text("notes.txt")
    bpage.shot("folder")
    with page.expect_download() as download:
        page.locator("#artifacts a", has_text="loss.csv").click()
    saved = download.value
    assert saved.suggested_filename == "loss.csv"
    assert Path(saved.path()).read_text() == "step,loss\n0,1.0\n1,0.5\n"


def test_overlay_two_runs(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["researcher"])
    bpage.goto("/runs?experiment=digits&order=attributes.name")
    expect(page.locator("#runs tbody tr")).to_have_count(6)
    # the keyboard: j moves the cursor, x selects
    page.locator("#runs").focus()
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#sel-count")).to_have_text("2")
    assert "sel=" in page.url  # the selection is part of the link
    bpage.shot("selected")
    page.click("#sel-curves")
    chart = page.locator("#curves-chart")
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(chart).to_have_attribute("data-points", "600")  # 2 runs x 300 steps
    legend = page.locator("#curves-chart .u-legend")
    expect(legend).to_contain_text("a-s0")
    expect(legend).to_contain_text("a-s2")
    bpage.shot("overlay")
    page.select_option('select[name="group"]', "model")
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(page.locator("#curves-chart .u-legend")).to_contain_text("model=a (2 runs)")
    bpage.shot("seed-band")


def test_compare_two_groups_and_read_the_verdict(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["researcher"])
    bpage.goto("/runs?experiment=digits")
    expect(page.locator("#runs tbody tr")).to_have_count(6)
    page.check("#sel-all")
    expect(page.locator("#sel-count")).to_have_text("6")
    page.click("#sel-compare")
    expect(page.locator(".notice")).to_contain_text("Split the 6 selected runs")
    verdict = page.locator("#verdicts [data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "better", timeout=60_000)
    expect(page.locator("#forest")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#bootstrap")).to_have_attribute("data-state", "drawn")
    bpage.shot("verdict")
    # the same comparison typed as selectors, with a smallest effect: seeds-needed advice
    page.fill('input[name="baseline"]', "digits:model=a")
    page.locator('input[name="candidate"]').first.fill("digits:model=b")
    page.fill('input[name="min_effect"]', "0.01")
    page.click("button.primary")
    expect(verdict).to_have_attribute("data-verdict", "better", timeout=60_000)
    expect(page.locator("#verdicts")).to_contain_text("digits:model=b")
    # the hypothesis registered on these groups: shown, evaluated only by its button
    expect(page.locator("#answered")).to_contain_text("b beats a")
    expect(page.locator("#answered button", has_text="Evaluate now")).to_be_visible()
    bpage.shot("selectors")


def test_promote_a_model_and_see_the_timeline(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["engineer"])
    page.click("nav >> text=Models")
    page.click("#models a:text-is('iris')")
    expect(page.locator("#promote-button")).to_be_visible()
    page.locator("#versions tr", has_text="v2").locator("button", has_text="Check parity").click()
    expect(page.locator("#parity-before")).to_contain_text("nothing moved", timeout=120_000)
    bpage.shot("parity-before")
    page.select_option('#promote-form select[name="version"]', "2")
    page.fill('#promote-form input[name="alias"]', "staging")
    page.fill('#promote-form input[name="reason"]', "better on held-out data")
    page.click("#promote-button")
    result = page.locator("#promotion-result")
    expect(result).to_contain_text("iris@staging → v2", timeout=120_000)
    expect(result).to_contain_text("parity")
    entry = page.locator('#timeline li[data-alias="staging"]').first
    expect(entry).to_contain_text("engineer-user")
    expect(entry).to_contain_text("better on held-out data")
    expect(page.locator("#aliases")).to_contain_text("staging")
    bpage.shot("timeline")


def test_viewer_finds_no_promote_button(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["viewer"])
    expect(page.locator(".who")).to_contain_text("viewer")
    bpage.goto("/models/iris")
    expect(page.locator("#versions")).to_be_visible()
    expect(page.locator("#promote-button")).to_have_count(0)
    expect(page.locator("button", has_text="Check parity")).to_have_count(0)
    bpage.shot("model-as-viewer")
    # the server refuses the action itself too, not only the button
    refused = page.request.post(
        f"{live.url}/models/iris/promote", form={"version": "1", "alias": "production"}
    )
    assert refused.status == 403 and "viewer" in refused.text()
    bpage.goto("/hypotheses")
    expect(page.locator("#hypotheses")).to_contain_text("b beats a")
    expect(page.locator("#hypotheses button")).to_have_count(0)
    bpage.shot("hypotheses-as-viewer")


def test_dark_theme_follows_the_system(bpage: BrowserPage, live: LiveServer) -> None:
    page = bpage.page
    bpage.login(live.tokens["viewer"])
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    bpage.goto(f"/runs/{live.ids['b'][0]}")
    page.wait_for_selector('.chart[data-key="loss"][data-state="drawn"]')
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(255, 255, 255)" and dark == "rgb(13, 17, 23)"
    bpage.shot("dark-run-page")


def test_keyboard_opens_a_run_and_the_nav_reaches_the_review_queue(
    bpage: BrowserPage, live: LiveServer
) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["admin"])
    bpage.goto("/runs?experiment=digits&order=attributes.name")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter"
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("#runs tr.cursor")).to_contain_text("a-s1")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("a-s1")
    page.click("nav >> text=Review")
    page.wait_for_url(re.compile(r".*/review/?$"))
    expect(page.locator("body")).to_contain_text("review", ignore_case=True)
    bpage.shot("review-queue")


def test_errors_are_shown_never_a_blank_page(bpage: BrowserPage, live: LiveServer) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["viewer"])
    response = bpage.goto("/runs/" + "0" * 32)
    assert response is not None and response.status == 404
    bpage.allow_console_error("status of 404")
    expect(page.locator(".error-page .error")).to_contain_text("no run")
    bpage.shot("missing-run")
    bpage.goto("/curves")
    expect(page.locator(".empty")).to_contain_text("No runs selected")
    bpage.shot("empty-curves")


def test_a_sweep_as_parallel_coordinates_and_budget_curves(
    bpage: BrowserPage, live: LiveServer
) -> None:
    from playwright.sync_api import expect

    page = bpage.page
    bpage.login(live.tokens["viewer"])
    page.click("nav >> text=Sweeps")
    expect(page.locator("#sweeps tbody tr")).to_have_count(2)
    page.keyboard.press("j")  # the keyboard works in every table: j/k move, Enter opens
    expect(page.locator("#sweeps tr.cursor")).to_contain_text("wide-search")
    page.keyboard.press("Enter")
    parallel = page.locator("#parallel")
    expect(parallel).to_have_attribute("data-state", "drawn")
    expect(parallel).to_have_attribute("data-lines", "20")
    expect(parallel).to_have_attribute("data-axes", "4")
    expect(page.locator("#budget")).to_have_attribute("data-curves", "1")
    expect(page.locator("#trials tbody tr")).to_have_count(20)
    bpage.shot("sweep")
    page.click("button:text-is('Compare')")
    expect(page.locator("#sweeps-verdict [data-verdict]")).to_have_attribute(
        "data-verdict", "better"
    )
    expect(page.locator("#budget")).to_have_attribute("data-curves", "2")
    bpage.shot("sweeps-compared")
