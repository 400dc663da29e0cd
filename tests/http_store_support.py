"""A real uvicorn ``labline server`` on 127.0.0.1 for the HTTP store's conformance runs.

One server per test session, in a thread of the test process, serving whichever app the
current test installed: every test gets a fresh SQLite store behind it (and a fresh admin
token) without paying for a new process.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import labline
from labline.server import ServerSettings, create_app
from labline.store import MetadataStore
from labline.store.http import HttpStore


class SwitchableApp:
    """An ASGI app that forwards to the app the current test installed."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no app installed"
        await self.app(scope, receive, send)


class ThreadedServer:
    """uvicorn on a free port of 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self.switch = SwitchableApp()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.switch, lifespan="off", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


_BEHIND: dict[int, tuple[ThreadedServer, labline.Client]] = {}


def fresh_http_store(server: ThreadedServer, home: Path) -> Iterator[HttpStore]:
    """An HTTP store on a fresh SQLite store behind ``server``, with an admin token."""
    backing = labline.Client(labline.Settings.local(home))
    token = backing.create_token("tester", "admin").secret
    server.switch.app = create_app(backing, ServerSettings())
    store = HttpStore(server.url, token)
    _BEHIND[id(store)] = (server, backing)
    try:
        yield store
    finally:
        _BEHIND.pop(id(store), None)
        store.close()
        server.switch.app = None
        backing.close()


def fresh_http_client(server: ThreadedServer, home: Path) -> Iterator[labline.Client]:
    """A client on ``LABLINE_URI=<server>`` with an admin token, a fresh SQLite store behind
    the server (its own home and blobs under ``home``)."""
    backing = labline.Client(labline.Settings.local(home / "server"))
    token = backing.create_token("tester", "admin").secret
    server.switch.app = create_app(backing, ServerSettings())
    remote = labline.Settings(
        home=home / "client",
        uri=server.url,
        artifact_uri=str(home / "client" / "blobs"),
        token=token,
    )
    client = labline.Client(remote)
    try:
        yield client
    finally:
        client.close()
        server.switch.app = None
        backing.close()


class Actors:
    """Clients on one test store, each acting for a named actor (``actors("ann")``).

    On SQLite and PostgreSQL they share the store and record the name they are given. A
    labline server records the token's name instead, so over HTTP each actor gets a token of
    its own, named after it (role ``admin`` unless told: these are tests of the store
    contract, the roles have their own), and a client with its own connection.
    """

    def __init__(self, store: MetadataStore, home: Path) -> None:
        self.store, self.home = store, home
        self.made: dict[str, labline.Client] = {}

    def __call__(self, name: str, role: str = "admin") -> labline.Client:
        if name in self.made:
            return self.made[name]
        home = self.home / f"actor-{name}"
        behind = _BEHIND.get(id(self.store))
        if behind is None:
            client = labline.Client(labline.Settings.local(home), actor=name, store=self.store)
        else:
            server, backing = behind
            secret = backing.create_token(name, role).secret
            settings = labline.Settings(
                home=home, uri=server.url, artifact_uri=str(home / "blobs"), token=secret
            )
            client = labline.Client(settings, actor=name)
        self.made[name] = client
        return client

    def close(self) -> None:
        """Close the clients with connections of their own (over HTTP)."""
        for client in self.made.values():
            if client.store is not self.store:
                client.close()


HTTP_ACTOR = "tester"
"""The token name every write through the conformance server is recorded as."""


def recorded_actor(store: object, claimed: str) -> str:
    """Who a write claimed by ``claimed`` is recorded as: over HTTP the server records the
    token's name whatever the caller claims."""
    return HTTP_ACTOR if isinstance(store, HttpStore) else claimed


def stored_blob(store: object, data: bytes) -> str:
    """The hex digest of ``data``, stored as a blob where the store checks blobs exist (a
    labline server accepts records only for blobs it holds)."""
    import hashlib

    from labline.store.http import HttpBlobStore

    if isinstance(store, HttpStore):
        return HttpBlobStore(store.http).put_bytes(data)
    return hashlib.sha256(data).hexdigest()


SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""For ``@pytest.mark.parametrize("store", SQL_BACKENDS, indirect=True)``: a test of a part of
the contract the HTTP store does not offer (a knob of the server's own store, token records
by hash) or checks with the server's validation messages."""
