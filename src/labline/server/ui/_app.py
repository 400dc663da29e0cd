"""The web UI as one mountable ASGI application class (Starlette routes, Jinja2 templates).

It reads the caller only from the request contract of ``labline server`` (see
:mod:`labline.server`): ``request.state.principal`` and ``request.state.client``. A request
that arrives without a principal (the server lets the UI's paths through so that a browser
sees a login page rather than a JSON 401) is answered with the login page.

Pages are rendered on the server; charts fetch their data as JSON from ``/ui-api/...`` so a
zoom refetches only the window it shows. Every value is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ... import InvalidArgumentError, LablineError, NotFoundError
from ..._http_errors import http_status
from .._principal import Permission
from . import (
    _compare,
    _curves,
    _hypotheses,
    _login,
    _models,
    _monitoring,
    _run,
    _runs,
    _sweeps,
)
from ._common import Features, NeedsLogin, detect_features, format_value

__all__ = ["WebUI"]

HERE = Path(__file__).parent
log = logging.getLogger("labline.server.ui")


def asset_version(folder: Path) -> str:
    """A digest of the UI's static files: their URLs carry it, so a browser caches them for
    good and an upgraded labline is fetched afresh."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class CachedStaticFiles(StaticFiles):
    """Static files a browser keeps: immutable when asked for by a versioned URL (``?v=``),
    revalidated (ETag) otherwise."""

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        return response


class WebUI:
    """The labline web UI, mountable at ``/`` of ``labline server``.

    Args:
        features: which optional pages exist (review queue, sweeps, monitoring); detected
            from the installed labline when omitted.
        secure_cookie: set the login cookie with ``Secure`` (a server behind HTTPS).

    Example:
        >>> ui = WebUI()
        >>> ui.is_public("/runs")  # the UI shows a login page itself, never a JSON 401
        True
    """

    def __init__(self, *, features: Features | None = None, secure_cookie: bool = False) -> None:
        self.features = features if features is not None else detect_features()
        self.secure_cookie = secure_cookie
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["value"] = format_value
        self.asset_version = asset_version(HERE / "static")
        routes: list[BaseRoute] = [
            Mount("/static", app=CachedStaticFiles(directory=HERE / "static"), name="static"),
            *_login.routes(self),
            *_runs.routes(self),
            *_run.routes(self),
            *_curves.routes(self),
            *_compare.routes(self),
            *_hypotheses.routes(self),
            *_models.routes(self),
            *_sweeps.routes(self),
            *_monitoring.routes(self),
        ]
        self.app = Starlette(
            routes=routes,
            exception_handlers={
                NeedsLogin: self._needs_login,
                HTTPException: self._http_error,
                LablineError: self._labline_error,
                Exception: self._server_error,
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @staticmethod
    def is_public(path: str) -> bool:
        """Whether ``labline server`` may let a request to ``path`` in without a principal.

        Every UI path: the UI answers a caller without one with its login page (and serves
        its static files), so nothing is shown or done without a principal.
        """
        return not path.startswith("/api/")

    # -- rendering -------------------------------------------------------------------------
    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page: ``template`` with the caller, the nav and ``context``."""
        principal = request.state.principal if hasattr(request.state, "principal") else None
        page = self.env.get_template(template).render(
            request=request,
            principal=principal,
            features=self.features,
            can=(lambda p: principal is not None and principal.can(p)),
            Permission=Permission,
            root=request.scope.get("root_path", ""),
            static=str(request.scope.get("root_path", "")) + "/static",
            asset_version=self.asset_version,
            **context,
        )
        return HTMLResponse(page, status_code=status_code)

    def url(self, request: Request, path: str) -> str:
        """``path`` under the UI's mount point."""
        return str(request.scope.get("root_path", "")) + path

    # -- errors: shown on a page (or as JSON for chart data), never a blank page --------------
    def _error(self, request: Request, status: int, title: str, message: str) -> Response:
        if request.url.path.startswith("/ui-api/"):
            return JSONResponse({"error": {"type": title, "message": message}}, status)
        if request.headers.get("hx-request"):
            return self.fragment_error(request, status, title, message)
        return self.render(request, "error.html", status, title=title, message=message)

    def fragment_error(
        self, request: Request, status: int, title: str, message: str
    ) -> HTMLResponse:
        """An error inside a fragment that htmx swaps into the page.

        It answers 200 with the real status in ``X-Labline-Status``: htmx swaps only 2xx
        answers, and the browser logs every 4xx/5xx fetch as a console error, yet a mistyped
        filter is the user's ordinary input, shown where the result would be."""
        response = self.render(request, "error_fragment.html", title=title, message=message)
        response.headers["X-Labline-Status"] = str(status)
        return response

    async def _needs_login(self, request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/ui-api/"):
            return JSONResponse(
                {"error": {"type": "AuthenticationError", "message": "log in first"}}, 401
            )
        return _login.login_page(self, request, status_code=401)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self._error(request, exc.status_code, "Error", str(exc.detail))

    async def _labline_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LablineError)
        if isinstance(exc, NotFoundError):
            return self._error(request, 404, "Not found", exc.message)
        if isinstance(exc, InvalidArgumentError):
            return self._error(request, 400, "Invalid request", exc.message)
        status = http_status(exc)
        return self._error(request, status, type(exc).__name__, exc.message)

    async def _server_error(self, request: Request, exc: Exception) -> Response:
        # one line, no traceback, no payload: the type says what broke
        log.error("web UI: %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return self._error(
            request, 500, "Server error", "the server could not show this page; it was logged"
        )
