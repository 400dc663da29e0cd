"""The review app in-process (httpx over ASGI) behind a test principal, and mounted in
``labline server``: routes, permissions, the write header, errors, rendering of inputs."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from review_support import draft
from starlette.types import ASGIApp, Receive, Scope, Send

import labline
from labline import Role
from labline.server import Principal
from labline.server.review import LocalReviewer, ReviewApp

W = {"X-Labline-Review": "1"}


class AsRole:
    def __init__(self, app: ASGIApp, client: labline.Client, role: Role) -> None:
        self.app, self.client, self.role = app, client, role

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state["principal"] = Principal(self.client.actor, self.role)
        state["client"] = self.client
        await self.app(scope, receive, send)


def call(app: ASGIApp, method: str, url: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, url, **kw)

    return asyncio.run(go())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[labline.Client]:
    c = labline.Client(labline.Settings.local(tmp_path), actor="ann")
    yield c
    c.close()


def test_the_flow_through_the_api(client: labline.Client) -> None:
    app = LocalReviewer(ReviewApp(), client)
    ids = client.enqueue_review_items(
        [
            draft(0, margin=0.1),
            draft(1, margin=0.2, inputs={"age": 31, "city": "Oslo"}),
            draft(2, margin=0.3, inputs="a short complaint"),
        ]
    )
    page = call(app, "GET", "/")
    assert page.status_code == 200 and "review.js" in page.text and "{{ROOT}}" not in page.text
    assert call(app, "GET", "/static/review.js").status_code == 200
    first = call(app, "GET", "/api/next").json()["item"]
    assert first["id"] == ids[0] and first["kind"] == "image" and first["guess"] == 0
    png = call(app, "GET", first["image"]["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO(png.content)).size == (256, 256)
    r = call(
        app, "POST", f"/api/items/{ids[0]}/decide", json={"kind": "label", "label": 4}, headers=W
    )
    assert r.status_code == 200 and r.json()["decision"]["label"] == 4
    second = call(app, "GET", "/api/next").json()["item"]
    assert second["kind"] == "table" and second["table"] == [["age", 31], ["city", "Oslo"]]
    call(app, "POST", f"/api/items/{ids[1]}/decide", json={"kind": "reject"}, headers=W)
    third = call(app, "GET", "/api/next").json()["item"]
    assert third["kind"] == "text" and third["text"] == "a short complaint"
    call(app, "POST", f"/api/items/{ids[2]}/decide", json={"kind": "skip"}, headers=W)
    again = call(app, "GET", "/api/next").json()["item"]
    assert again["id"] == ids[2]  # the only one left
    undone = call(app, "POST", "/api/undo", json={}, headers=W).json()["decision"]
    assert undone["kind"] == "skip"
    recent = call(app, "GET", "/api/recent").json()["decisions"]
    assert [d["item_id"] for d in recent] == [ids[1], ids[0]]
    edited = call(
        app,
        "POST",
        f"/api/decisions/{recent[1]['id']}",
        json={"kind": "label", "label": 9},
        headers=W,
    )
    assert edited.status_code == 200 and edited.json()["decision"]["label"] == 9
    counts = call(app, "GET", "/api/counts").json()
    assert counts["done"] == 2 and counts["total"] == 3


def test_errors_are_clear_4xx(client: labline.Client) -> None:
    app = LocalReviewer(ReviewApp(), client)
    (i,) = client.enqueue_review_items([draft(0)])
    r = call(app, "POST", f"/api/items/{i}/decide", json={"kind": "label", "label": 1})
    assert r.status_code == 403 and "x-labline-review" in r.json()["error"]
    r = call(app, "POST", f"/api/items/{i}/decide", json={"kind": "label", "label": 1}, headers=W)
    assert r.status_code == 409 and "claim it first" in r.json()["error"]
    r = call(app, "POST", f"/api/items/{i}/decide", content=b"{nope", headers=W)
    assert r.status_code == 400 and r.json() == {"error": "the body must be a JSON object"}
    r = call(app, "POST", f"/api/items/{i}/decide", json={"kind": "maybe"}, headers=W)
    assert r.status_code == 400 and "kind must be" in r.json()["error"]
    r = call(app, "GET", "/api/next?order=random")
    assert r.status_code == 400 and "order must be" in r.json()["error"]
    assert call(app, "GET", "/api/items/999").status_code == 404
    call(app, "GET", "/api/next")
    r = call(app, "POST", f"/api/items/{i}/decide", json={"kind": "label", "label": [1]}, headers=W)
    assert r.status_code == 400 and "label must be" in r.json()["error"]
    r = call(app, "POST", "/api/decisions/12345", json={"kind": "reject"}, headers=W)
    assert r.status_code == 404


def test_roles(client: labline.Client) -> None:
    client.enqueue_review_items([draft(0)])
    viewer = AsRole(ReviewApp(), client, Role.VIEWER)
    r = call(viewer, "GET", "/api/next")
    assert r.status_code == 403 and "'label' right" in r.json()["error"]
    assert call(viewer, "GET", "/api/counts").status_code == 200
    assert call(AsRole(ReviewApp(), client, Role.REVIEWER), "GET", "/api/next").status_code == 200
    assert ReviewApp.is_public("/static/review.css") and not ReviewApp.is_public("/")


def test_mounted_in_labline_server(client: labline.Client) -> None:
    from labline.server import ServerSettings, create_app, route_permissions

    app = create_app(client, ServerSettings())
    declared = {
        r.path: r.permission
        for r in route_permissions(list(app.fastapi.routes))
        if r.path.startswith("/review")
    }
    assert declared["/review/api/next"] == "label" and declared["/review/"] == "label"
    assert all(p is not None for p in declared.values())
    client.enqueue_review_items([draft(0)])
    r = call(app, "GET", "/review/api/next")  # loopback, no tokens configured: local admin
    assert r.status_code == 200, r.text
    assert r.json()["item"]["image"]["url"].startswith("/review/api/items/")
