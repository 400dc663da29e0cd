"""Fixtures for the web UI: a seeded store and the UI app behind the test auth middleware
(in-process), and for the browser tests a real ``labline server`` with one token per role and
Playwright pages on Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    BrowserPage,
    LiveServer,
    ServerProcess,
    browser_pages,
)
from ui_support import FakeAuth, UIHttp, register_models, seed_store, seed_sweeps

import labline
from labline.server.ui import WebUI

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROLES = ("admin", "engineer", "researcher", "viewer")


@pytest.fixture
def ui_client(tmp_path: Path) -> Iterator[labline.Client]:
    client = labline.Client(labline.Settings.local(tmp_path / "home"))
    yield client
    client.close()


@pytest.fixture
def seeded(ui_client: labline.Client) -> dict[str, list[str]]:
    return seed_store(ui_client)


@pytest.fixture
def http(ui_client: labline.Client) -> UIHttp:
    """The UI in-process (httpx over the ASGI app), as an admin."""
    return UIHttp(FakeAuth(WebUI(), ui_client), {"x-test-role": "admin"})


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is required in CI (scripts/setup.sh installs it)")
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``labline server`` on a seeded store (runs with curves, predictions, artifacts, a
    parent with children, two versions of a model, a hypothesis), tokens for each role."""
    _need_chromium()
    settings = labline.Settings.local(tmp_path_factory.mktemp("ui-live"))
    with labline.Client(settings, actor="seeder") as client:
        ids: dict[str, object] = dict(seed_store(client))
        files = tmp_path_factory.mktemp("ui-files")
        (files / "notes.txt").write_text("hello from a run\n")
        (files / "plots").mkdir()
        (files / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
        run_id = ids["a"][0]  # type: ignore[index]
        client.log_artifact_file(run_id, "notes.txt", files / "notes.txt")
        client.log_artifact_file(run_id, "plots/loss.csv", files / "plots" / "loss.csv")
        ids["model"] = register_models(client)
        ids["sweeps"] = seed_sweeps(client)
        ids["hypothesis"] = client.add_hypothesis(
            "b beats a",
            baseline="digits:model=a",
            candidate="digits:model=b",
            metric="accuracy",
            min_effect=0.01,
            seeds=3,
        ).id
        tokens = {role: client.create_token(f"{role}-user", role).secret for role in ROLES}
    server = ServerProcess(settings)
    url = server.start()
    try:
        yield LiveServer(url, tokens, ids)
    finally:
        err = server.stop()
    assert "Traceback" not in err, err[-3000:]


@pytest.fixture(scope="module")
def browser(live: LiveServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def bpage(
    browser: Browser, live: LiveServer, request: pytest.FixtureRequest
) -> Iterator[BrowserPage]:
    """A fresh browser context for one test; a console error fails the test."""
    yield from browser_pages(browser, live.url, request.node.name)
