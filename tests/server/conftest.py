"""Fixtures for ``labline server``: the app in-process (ASGIClient over ASGI) on each backend,
tokens of every role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from server_support import ASGIClient

import labline
from labline.server import Role, ServerSettings, create_app


@pytest.fixture
def app_factory(client: labline.Client) -> Callable[..., ASGIClient]:
    """Build an in-process server on the test's store: ``app_factory(host=..., ...)``."""
    made: list[ASGIClient] = []

    def make(**settings: object) -> ASGIClient:
        http = ASGIClient(create_app(client, ServerSettings(**settings)))  # type: ignore[arg-type]
        made.append(http)
        return http

    yield make  # type: ignore[misc]
    for http in made:
        http.close()


@pytest.fixture
def tokens(client: labline.Client) -> dict[Role, str]:
    """One working token per role, named after the role (``admin``, ``viewer``, ...)."""
    return {role: client.create_token(f"{role.value}-user", role).secret for role in Role}


@pytest.fixture
def http(app_factory: Callable[..., ASGIClient], tokens: dict[Role, str]) -> Iterator[ASGIClient]:
    """A server with tokens configured (so every request needs one), no default token."""
    yield app_factory()
