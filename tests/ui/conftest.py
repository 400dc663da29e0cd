"""Fixtures for the web UI: a seeded store and the UI app behind the test auth middleware."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_support import FakeAuth, UIHttp, seed_store

import labline
from labline.server.ui import WebUI


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
