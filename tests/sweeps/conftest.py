"""``backend_client``: a client on a fresh store of each backend the sweep contract runs on:
SQLite, PostgreSQL and a labline server over HTTP (the session's one server, a fresh store
behind it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import labline
from http_store_support import fresh_http_client
from pg_support import pg_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "http"])
def backend_client(
    request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool
) -> Iterator[labline.Client]:
    if request.param == "http":
        yield from fresh_http_client(request.getfixturevalue("http_server"), tmp_path)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'labline.db'}"
        with labline.Client(url, artifact_uri=str(tmp_path / "blobs")) as c:
            yield c
        return
    if not pg_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (required in CI)")
    for url in pg_schema_url():
        with labline.Client(url, artifact_uri=str(tmp_path / "blobs")) as c:
            yield c
