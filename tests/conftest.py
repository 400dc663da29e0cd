"""Shared fixtures: a fresh store per test on each backend (SQLite always, PostgreSQL in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import labline
from http_store_support import Actors, ThreadedServer, fresh_http_store
from labline.store import MetadataStore
from labline.store.sql import SQLStore
from pg_support import PG_AVAILABLE, PG_BASE, REQUIRE_PG, pg_schema_url


@pytest.fixture(scope="session")
def pg_available() -> bool:
    if not PG_AVAILABLE and REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required in CI but {PG_BASE} is not reachable")
    return PG_AVAILABLE


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[str]:
    """The URL of an empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'labline.db'}"
        return
    if not pg_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (required in CI)")
    yield from pg_schema_url()


@pytest.fixture(scope="session")
def http_server() -> Iterator[ThreadedServer]:
    """One real uvicorn ``labline server`` on 127.0.0.1 for the session (see
    ``http_store_support``)."""
    server = ThreadedServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "http"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool
) -> Iterator[MetadataStore]:
    """A fresh metadata store on each backend: SQLite, PostgreSQL, and a labline server
    (over HTTP, a fresh SQLite store behind it)."""
    if request.param == "http":
        yield from fresh_http_store(request.getfixturevalue("http_server"), tmp_path / "server")
        return
    if request.param == "sqlite":
        s = SQLStore(f"sqlite:///{tmp_path / 'labline.db'}")
        yield s
        s.close()
        return
    if not pg_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (required in CI)")
    for url in pg_schema_url():
        s = SQLStore(url)
        yield s
        s.close()


@pytest.fixture
def actors(store: MetadataStore, tmp_path: Path) -> Iterator[Actors]:
    """Clients on the ``store`` fixture's store, one per actor name: ``actors("ann")`` (over
    HTTP each with a token of its own, since a server records the token's name)."""
    made = Actors(store, tmp_path / "actors")
    yield made
    made.close()


@pytest.fixture
def sql_store(store_url: str) -> Iterator[SQLStore]:
    """A fresh SQL store (SQLite, PostgreSQL): for tests of the SQL backend itself."""
    s = SQLStore(store_url)
    yield s
    s.close()


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> labline.Settings:
    """Settings pointing at a fresh store on each backend, blobs in a temp folder."""
    return labline.Settings(home=tmp_path, uri=store_url, artifact_uri=str(tmp_path / "blobs"))


@pytest.fixture
def client(settings: labline.Settings) -> Iterator[labline.Client]:
    """A client on a fresh store on each backend."""
    c = labline.Client(settings)
    yield c
    c.close()


@pytest.fixture
def local_settings(tmp_path: Path) -> labline.Settings:
    """Settings for an embedded SQLite store in a temp folder."""
    return labline.Settings.local(tmp_path / "home")
