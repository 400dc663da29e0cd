"""The model server's ASGI app: :class:`ModelServerApp` and :func:`create_app`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._imports import import_optional
from ._endpoints import (
    Endpoint,
    ErrorAnswers,
    InferEndpoint,
    MetricsEndpoint,
    ModelMetadataEndpoint,
    ModelReadyEndpoint,
    MonitoringEndpoint,
    PredictEndpoint,
    ServerLiveEndpoint,
    ServerMetadataEndpoint,
    ServerReadyEndpoint,
)
from ._metrics import ServingMetrics
from ._review_feed import ReviewSink
from ._server import ModelServer
from ._settings import ServeSettings
from ._source import ModelSource

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

__all__ = ["ModelServerApp", "create_app"]

_INFER = "/v2/models/{name}/infer"
_INFER_VERSION = "/v2/models/{name}/versions/{version}/infer"


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (``root_path``), as Starlette routes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _infer_params(path: str) -> dict[str, str] | None:
    """Path parameters of a V2 infer path, or None if ``path`` is not one."""
    parts = path[len("/v2/models/") : -len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        return {"name": parts[0]}
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
        return {"name": parts[0], "version": parts[2]}
    return None


class ModelServerApp:
    """The model server as an ASGI application.

    Routes (each an :class:`~labline.serving._endpoints.Endpoint` class bound to one
    :class:`ModelServer`): ``POST /predict``; the Open Inference Protocol V2 under ``/v2``;
    ``GET /metrics``; ``GET /monitoring``. The two inference routes are dispatched before Starlette's router (the
    hot path skips route matching); everything else goes through the router, whose 404 and
    405 answers keep Starlette's headers (``Allow``).

    The app can be mounted into another Starlette app (``Mount("/digits", app)``); the outer
    app must then enter :meth:`lifespan` in its own lifespan, which starts alias following.

    Args:
        settings: batching, limits and alias following.
        source: where the model comes from; loaded and verified here.
        metrics: where to record metrics (default: a fresh per-process set).
        review_client: the :class:`labline.Client` that queues a calibrated model's deferred
            answers and audit samples for review (``None``: they are only counted).

    Raises:
        MissingDependencyError: the ``serve`` extra is not installed.
        LablineError: the model cannot be loaded or verified.

    Attributes:
        server: the :class:`ModelServer` (current model, batcher, metrics).
        state: Starlette's app state; ``state.server`` is :attr:`server`.
    """

    def __init__(
        self,
        settings: ServeSettings,
        source: ModelSource,
        metrics: ServingMetrics | None = None,
        review_client: ReviewSink | None = None,
    ) -> None:
        starlette_apps = import_optional("starlette.applications", "serve")
        routing = import_optional("starlette.routing", "serve")
        exceptions = import_optional("starlette.exceptions", "serve")
        self.server = server = ModelServer(settings, source, metrics, review_client)
        self.errors = errors = ErrorAnswers(server)

        def bind(kind: type[Endpoint], route: str) -> Endpoint:
            return kind(server, errors, route)

        self.predict = bind(PredictEndpoint, "/predict")
        self.infer = bind(InferEndpoint, _INFER)
        self.infer_version = bind(InferEndpoint, _INFER_VERSION)
        Route = routing.Route
        get: list[tuple[str, type[Endpoint]]] = [
            ("/v2", ServerMetadataEndpoint),
            ("/v2/health/live", ServerLiveEndpoint),
            ("/v2/health/ready", ServerReadyEndpoint),
            ("/v2/models/{name}", ModelMetadataEndpoint),
            ("/v2/models/{name}/versions/{version}", ModelMetadataEndpoint),
            ("/v2/models/{name}/ready", ModelReadyEndpoint),
            ("/v2/models/{name}/versions/{version}/ready", ModelReadyEndpoint),
            ("/metrics", MetricsEndpoint),
            ("/monitoring", MonitoringEndpoint),
        ]
        routes = [
            Route("/predict", self.predict, methods=["POST"]),
            Route(_INFER, self.infer, methods=["POST"]),
            Route(_INFER_VERSION, self.infer_version, methods=["POST"]),
            *(Route(path, bind(kind, path), methods=["GET"]) for path, kind in get),
        ]
        self.router = starlette_apps.Starlette(
            routes=routes,
            exception_handlers={exceptions.HTTPException: errors.http_exception},
            lifespan=self.lifespan,
        )
        self.state = self.router.state
        self.state.server = server

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start alias following; on the way out stop it and drain the model thread."""
        async with self.server.lifespan(app):
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = _route_path(scope)
            if path == "/predict":
                return await self.predict(scope, receive, send)
            if path.startswith("/v2/models/") and path.endswith("/infer"):
                params = _infer_params(path)
                if params is not None:
                    scope["path_params"] = params
                    endpoint = self.infer if len(params) == 1 else self.infer_version
                    return await endpoint(scope, receive, send)
        await self.router(scope, receive, send)


def create_app(
    settings: ServeSettings,
    model_source: ModelSource,
    metrics: ServingMetrics | None = None,
    *,
    review_client: ReviewSink | None = None,
) -> ModelServerApp:
    """Build the model server's ASGI app.

    The model is loaded and verified before this returns, so a bad reference fails here.
    Endpoints: ``POST /predict``, the Open Inference Protocol V2 (``/v2...``) with the
    binary-data extension, and ``GET /metrics``. ``app.state.server`` is the
    :class:`ModelServer`.

    Args:
        settings: batching, limits and alias following.
        model_source: where the model comes from (:class:`RegistryModelSource` for
            ``labline serve``; :class:`StaticModelSource` for an object already loaded).
        metrics: where to record metrics (default: a fresh per-process set).
        review_client: the :class:`labline.Client` that queues a calibrated model's deferred
            answers and audit samples for review (``labline serve`` passes its own); ``None``:
            answers still say ``deferred``, and the items are counted as dropped.

    Returns:
        A :class:`ModelServerApp` (run it with uvicorn; the lifespan starts alias following).

    Raises:
        MissingDependencyError: the ``serve`` extra is not installed.
        LablineError: the model cannot be loaded or verified.

    Example:
        >>> app = create_app(ServeSettings(), RegistryModelSource("digits@production", client))  # doctest: +SKIP
        >>> uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    return ModelServerApp(settings, model_source, metrics, review_client)
