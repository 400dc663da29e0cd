"""The ``labline server`` application: one FastAPI app, labline's REST API under ``/api/v1``,
sub-apps mounted beside it, everything behind one authentication layer.

Extending it is one line in one place:

* a router of ``/api/v1`` routes: add its module to :data:`API_ROUTERS` (the module has a
  ``router``; every route lists ``dependencies=[requires(Permission.X)]``);
* a sub-app: add ``SubApp(path, "module:factory")`` to :data:`SUB_APPS`. The factory is
  called as ``factory(client, settings)`` and returns an ASGI app; it is imported lazily and
  mounted only when its module exists. Its requests carry ``request.state.principal`` and
  ``request.state.client`` like every other; its routes declare permissions
  (``labline.server.declares``) and check them (``labline.server.check_permission``).

Order matters: ``/`` (the web UI) is mounted last so that it only gets what nothing else took.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import Client
from .._http_errors import error_document
from ._auth import AuthMiddleware, BodyLimitMiddleware, GuardMiddleware
from ._errors import error_response, install_error_handlers
from ._permissions import PUBLIC, declares, route_permissions
from ._settings import ServerSettings

__all__ = ["API_PREFIX", "API_ROUTERS", "SUB_APPS", "UPLOAD_PREFIXES", "SubApp", "create_app"]

API_PREFIX = "/api/v1"

API_ROUTERS: tuple[str, ...] = (
    "labline.server._api_admin",
    "labline.server._api_experiments",
    "labline.server._api_run_views",
    "labline.server._api_runs",
    "labline.server._api_models",
    "labline.server._api_calibrations",
    "labline.server._api_science",
    "labline.server._api_sweeps",
    "labline.server._api_review",
    "labline.server._api_review_queue",
    "labline.server._api_records",
    "labline.server._api_blobs",
)
"""Modules whose ``router`` is included under ``/api/v1`` (in this order)."""


@dataclass(frozen=True)
class SubApp:
    """A sub-app mounted at ``path``.

    Attributes:
        path: the mount point (``""`` for the root).
        target: ``"module:factory"``; ``factory(client, settings)`` (or ``factory()`` when it
            takes no arguments: the app reads everything from ``request.state``) returns the
            ASGI app.
        public_prefixes: paths under ``path`` anyone may reach without a token (a login
            page, static files); the app still sees ``request.state.principal`` (``None``
            when no valid token came). An app with an ``is_public(path)`` method (path
            relative to the mount) decides for itself instead.
    """

    path: str
    target: str
    public_prefixes: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The module holding the factory."""
        return self.target.partition(":")[0]

    def available(self) -> bool:
        """Whether the sub-app's module is installed (it may land later)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False

    def build(self, client: Client, settings: ServerSettings) -> ASGIApp:
        """Import the factory and make the app."""
        module, _, name = self.target.partition(":")
        factory: Callable[..., ASGIApp] = getattr(importlib.import_module(module), name)
        required = [
            p
            for p in inspect.signature(factory).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        return factory(client, settings) if required else factory()


SUB_APPS: tuple[SubApp, ...] = (
    SubApp("/api/2.0/mlflow", "labline.server.mlflow:MlflowTrackingApp"),
    SubApp("/ajax-api/2.0/mlflow", "labline.server.mlflow:MlflowTrackingApp"),
    SubApp("/api/2.0/mlflow-artifacts", "labline.server.mlflow:MlflowArtifactsApp"),
    SubApp("/review", "labline.server.review:ReviewApp"),
    SubApp("", "labline.server.ui:WebUI"),
)
"""Sub-apps, mounted in this order when their module exists (the web UI at ``/`` last)."""

UPLOAD_PREFIXES: tuple[str, ...] = (
    f"{API_PREFIX}/blobs",
    "/api/2.0/mlflow-artifacts",
)
"""Paths whose bodies may be as large as ``ServerSettings.max_upload_bytes`` (uploads)."""


class _RootFallback:
    """What the app answers when no route matched: the root sub-app (the web UI), except for
    ``/api/...`` paths, which get the API's JSON 404."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith("/api/"):
            response = error_response(
                404,
                error_document(f"no route {scope['path']!r}", error_type="NotFoundError"),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _prefix_check(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    def is_public(path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)

    return is_public


class LablineServer:
    """Builds the app: the API routers, the mounted sub-apps, and the layers around them
    (guard → body limit → authentication → FastAPI)."""

    def __init__(self, client: Client, settings: ServerSettings) -> None:
        self.client = client
        self.settings = settings
        self.api = self._api()
        self.public_paths: set[str] = set()
        self._sub_public: list[tuple[str, Callable[[str], bool]]] = []
        self.root_routes: list[BaseRoute] = []
        self._mount_sub_apps()
        self._collect_public_paths()

    def _api(self) -> FastAPI:
        app = FastAPI(
            title="labline server",
            version="1",
            description=(
                "labline's REST API: experiments, runs, metrics, artifacts, comparisons, "
                "hypotheses, models and the registry. Authenticate with "
                "`Authorization: Bearer <token>` (`labline server token create`)."
            ),
            openapi_url="/api/openapi.json",
            docs_url="/api/docs",
            redoc_url=None,
            swagger_ui_oauth2_redirect_url=None,
        )
        install_error_handlers(app)
        for route in app.routes:  # the OpenAPI document and its viewer carry no data
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None:
                declares(PUBLIC)(endpoint)
        for module in API_ROUTERS:
            router: APIRouter = importlib.import_module(module).router
            app.include_router(router, prefix=API_PREFIX)
        app.state.labline_client = self.client
        app.state.labline_settings = self.settings
        return app

    def _mount_sub_apps(self) -> None:
        for sub in SUB_APPS:
            if not sub.available():
                continue
            app = sub.build(self.client, self.settings)
            if sub.path:
                self.api.mount(sub.path, app)
            else:
                # The root app answers only what no route took: routes first, so a wrong
                # method on an API route is still a 405, and an unknown /api/ path a JSON 404.
                self.api.router.default = _RootFallback(app)
                self.root_routes.append(Mount("", app=app))
            decides = getattr(app, "is_public", None)
            if callable(decides):
                self._sub_public.append((sub.path, decides))
            else:
                self._sub_public.append((sub.path, _prefix_check(sub.public_prefixes)))

    def _collect_public_paths(self) -> None:
        for route in route_permissions(self.routes()):
            if route.permission == PUBLIC and "{" not in route.path:
                self.public_paths.add(route.path)

    def routes(self) -> list[BaseRoute]:
        """Every route: the API's, mounted sub-apps' and the root sub-app's (as a mount)."""
        return [*self.api.routes, *self.root_routes]

    def is_public(self, path: str) -> bool:
        """Whether ``path`` may be reached without a token: a route declared public, or a
        path of the sub-app that will answer it (the first mount, in order, that matches)
        says so."""
        if path in self.public_paths:
            return True
        if path == API_PREFIX or path.startswith(API_PREFIX + "/") or path.startswith("/api/docs"):
            return False
        for prefix, decides in self._sub_public:
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return bool(decides(path[len(prefix) :] or "/"))
        return False

    def body_limit(self, path: str) -> int:
        """The largest request body accepted on ``path``."""
        if any(path.startswith(p) for p in UPLOAD_PREFIXES):
            return self.settings.max_upload_bytes
        return self.settings.max_body_bytes

    def asgi(self) -> ASGIApp:
        """The app with its layers."""
        inner: ASGIApp = AuthMiddleware(self.api, self.client, self.settings, self.is_public)
        inner = BodyLimitMiddleware(inner, self.body_limit)
        return GuardMiddleware(inner)


class ServerApp:
    """The ASGI app :func:`create_app` returns: the layered app, and the FastAPI app inside
    (its ``routes`` and ``openapi()``) for tests and tools."""

    def __init__(self, server: LablineServer) -> None:
        self.server = server
        self.fastapi = server.api
        self._asgi = server.asgi()

    @property
    def routes(self) -> list[BaseRoute]:
        """Every route of the server, sub-apps included (walk it with
        :func:`labline.server.route_permissions`)."""
        return self.server.routes()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)


def create_app(client: Client, settings: ServerSettings | None = None) -> ServerApp:
    """The ``labline server`` ASGI app on ``client``'s store.

    Args:
        client: the server's client; each request runs on ``client.as_actor(caller)``.
        settings: address (decides whether requests need a token while none is configured),
            body limits; defaults to loopback.

    Returns:
        The ASGI app (``app.fastapi`` is the FastAPI app inside, with the route table).

    Example:
        >>> import tempfile, httpx, labline
        >>> from labline.server import create_app
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> app = create_app(client)
        >>> import asyncio
        >>> async def get():
        ...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
        ...                                  base_url="http://t") as http:
        ...         return (await http.get("/api/v1/experiments")).json()
        >>> asyncio.run(get())
        []
        >>> client.close()
    """
    return ServerApp(LablineServer(client, settings or ServerSettings()))
