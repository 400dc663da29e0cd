"""The review page's ASGI app: the page, its script and the small JSON API it drives.

Every route declares its permission (``labline.server.declares``) and checks it against
``request.state.principal``; every store call goes through ``request.state.client`` (the
caller's own client, so decisions are recorded as the caller), run in a worker thread so
that the event loop never waits on the database. Writes must carry the header
``X-Labline-Review: 1``, which a cross-site form cannot send (a CSRF guard for cookie logins).
Errors answer ``{"error": message}`` with the status of the one HTTP error table; nothing of
an item's inputs is ever logged.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ... import (
    Client,
    InvalidArgumentError,
    LablineError,
    NotFoundError,
    PermissionDeniedError,
    ReviewDecision,
    ReviewItem,
)
from ..._http_errors import error_body, http_status, is_server_error
from ...core import image_grid, render_png, to_jsonable
from .._permissions import check_permission, declares, request_client
from .._principal import Permission
from ._view import item_view

__all__ = ["ReviewApp", "ReviewPage"]

HERE = Path(__file__).parent
log = logging.getLogger("labline.server.review")
WRITE_HEADER = "x-labline-review"
_MAX_BODY = 64 * 1024


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(to_jsonable(data, non_finite="null"), allow_nan=False)
    return Response(
        body, status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get(WRITE_HEADER) != "1":
        raise PermissionDeniedError(f"writes need the header {WRITE_HEADER}: 1")
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise InvalidArgumentError(f"the body is larger than {_MAX_BODY} bytes")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidArgumentError("the body must be a JSON object") from e
    if not isinstance(data, dict):
        raise InvalidArgumentError("the body must be a JSON object")
    return data


def _query_choice(
    request: Request, name: str, allowed: tuple[str, ...], default: str | None
) -> Any:
    value = request.query_params.get(name, default)
    if value is not None and value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(allowed)}")
    return value


class ReviewPage:
    """The handlers behind the routes (one instance per app, sharing a class-list cache)."""

    def __init__(self) -> None:
        self._classes: dict[str, tuple[Any, ...] | None] = {}

    def classes_of(self, client: Client, item: ReviewItem) -> tuple[Any, ...] | None:
        """The classes of the item's model (from its verified package manifest), cached by
        package digest; ``None`` when the package names none or is not in this store."""
        if item.model_digest not in self._classes:
            try:
                classes = client.get_manifest(item.model_digest).classes
            except NotFoundError:
                classes = None
            self._classes[item.model_digest] = (
                None if classes is None else tuple(to_jsonable(list(classes)))
            )
        return self._classes[item.model_digest]

    def _view(self, client: Client, item: ReviewItem | None, base: str) -> dict[str, Any]:
        if item is None:
            return {"item": None}
        return {"item": item_view(item, self.classes_of(client, item), base)}

    # -- the page ----------------------------------------------------------------------------
    @declares(Permission.LABEL)
    async def page(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        root = html.escape(str(request.scope.get("root_path", "")), quote=True)
        text = (HERE / "static" / "review.html").read_text(encoding="utf-8")
        return HTMLResponse(text.replace("{{ROOT}}", root), headers={"Cache-Control": "no-store"})

    # -- JSON API ----------------------------------------------------------------------------
    @declares(Permission.LABEL)
    async def next_item(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        client = request_client(request)
        order = _query_choice(request, "order", ("uncertainty", "time"), "uncertainty")
        reason = _query_choice(request, "reason", ("deferred", "audit"), None)
        model = request.query_params.get("model") or None
        item = await run_in_threadpool(
            client.next_review_item, order=order, reason=reason, model=model
        )
        return _json(self._view(client, item, self._base(request)))

    @declares(Permission.READ)
    async def get_item(self, request: Request) -> Response:
        check_permission(request, Permission.READ)
        client = request_client(request)
        item = await run_in_threadpool(client.get_review_item, request.path_params["item_id"])
        return _json(self._view(client, item, self._base(request)))

    @declares(Permission.READ)
    async def image(self, request: Request) -> Response:
        check_permission(request, Permission.READ)
        client = request_client(request)
        item = await run_in_threadpool(client.get_review_item, request.path_params["item_id"])
        grid = image_grid(item.inputs)
        if grid is None:
            raise NotFoundError(f"review item {item.id} has no image input")
        scale = max(1, min(32, 256 // max(len(grid), len(grid[0]))))
        return Response(
            render_png(grid, scale=scale),
            media_type="image/png",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @declares(Permission.LABEL)
    async def decide(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        client = request_client(request)
        body = await _body(request)
        item_id = request.path_params["item_id"]
        kind = body.get("kind")
        call: Callable[[], ReviewDecision]
        if kind == "label":
            if "label" not in body:
                raise InvalidArgumentError("label is missing")
            call = lambda: client.label_review_item(item_id, body["label"])  # noqa: E731
        elif kind == "reject":
            call = lambda: client.reject_review_item(item_id)  # noqa: E731
        elif kind == "skip":
            call = lambda: client.skip_review_item(item_id)  # noqa: E731
        else:
            raise InvalidArgumentError("kind must be 'label', 'reject' or 'skip'")
        decision = await run_in_threadpool(call)
        return _json({"decision": decision})

    @declares(Permission.LABEL)
    async def undo(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        client = request_client(request)
        body = await _body(request)
        decision_id = body.get("decision_id")
        undone = await run_in_threadpool(client.undo_review_decision, decision_id)
        return _json({"decision": undone})

    @declares(Permission.LABEL)
    async def edit(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        client = request_client(request)
        body = await _body(request)
        decision_id = request.path_params["decision_id"]
        kind = body.get("kind")
        if kind == "reject":
            call = lambda: client.edit_review_decision(decision_id, reject=True)  # noqa: E731
        elif kind == "label":
            if body.get("label") is None:
                raise InvalidArgumentError("label is missing")
            call = lambda: client.edit_review_decision(decision_id, body["label"])  # noqa: E731
        else:
            raise InvalidArgumentError("kind must be 'label' or 'reject'")
        return _json({"decision": await run_in_threadpool(call)})

    @declares(Permission.LABEL)
    async def recent(self, request: Request) -> Response:
        check_permission(request, Permission.LABEL)
        client = request_client(request)
        decisions = await run_in_threadpool(client.recent_review_decisions)
        return _json({"decisions": decisions})

    @declares(Permission.READ)
    async def counts(self, request: Request) -> Response:
        check_permission(request, Permission.READ)
        client = request_client(request)
        counts = await run_in_threadpool(client.review_counts)
        return _json(dict(counts))

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))


class ReviewApp:
    """The review page as a mountable ASGI app (``labline server`` mounts it at ``/review``).

    Example:
        >>> app = ReviewApp()
        >>> app.is_public("/static/review.js"), app.is_public("/api/next")
        (True, False)
    """

    def __init__(self) -> None:
        self.page = ReviewPage()
        p = self.page
        routes: list[BaseRoute] = [
            Route("/", p.page, methods=["GET"]),
            Route("/api/next", p.next_item, methods=["GET"]),
            Route("/api/recent", p.recent, methods=["GET"]),
            Route("/api/counts", p.counts, methods=["GET"]),
            Route("/api/undo", p.undo, methods=["POST"]),
            Route("/api/items/{item_id:int}", p.get_item, methods=["GET"]),
            Route("/api/items/{item_id:int}/image.png", p.image, methods=["GET"]),
            Route("/api/items/{item_id:int}/decide", p.decide, methods=["POST"]),
            Route("/api/decisions/{decision_id:int}", p.edit, methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]
        self.app = Starlette(
            routes=routes,
            exception_handlers={LablineError: self._labline_error, Exception: self._server_error},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @staticmethod
    def is_public(path: str) -> bool:
        """Only the static script and style may be fetched without a principal."""
        return path.startswith("/static/")

    @staticmethod
    async def _labline_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LablineError)
        status = http_status(exc)
        if is_server_error(status):
            log.error("review request failed: %s", type(exc).__name__)
        return Response(error_body(exc), status, media_type="application/json")

    @staticmethod
    async def _server_error(request: Request, exc: Exception) -> Response:
        log.error("review request failed: %s", type(exc).__name__)
        return JSONResponse({"error": "internal error"}, 500)
