"""The model server: ``create_app(settings, model_source)`` returns a Starlette ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .._exceptions import (
    IntegrityError,
    InvalidArgumentError,
    LablineError,
    NotFoundError,
    ParityError,
)
from .._imports import import_optional
from ._batching import MicroBatcher, ModelCallError
from ._codec import (
    RequestError,
    decode_json,
    decode_v2_request,
    encode_predict,
    encode_v2_response,
    inflate,
    parse_predict,
)
from ._metrics import ServingMetrics
from ._model import ServedModel
from ._settings import ServeSettings
from ._source import ModelSource

__all__ = ["ModelServer", "create_app"]

_log = logging.getLogger("labline.serving")
_JSON = "application/json"
_CT_JSON = (b"content-type", b"application/json")
_INFER = "/v2/models/{name}/infer"
_INFER_VERSION = "/v2/models/{name}/versions/{version}/infer"


def _infer_target(path: str) -> tuple[str, str | None]:
    """(model name, version or None) from a V2 infer path."""
    parts = path[len("/v2/models/") : -len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
        return parts[0], parts[2]
    raise RequestError(404, "not found")


class _NotReached:
    """Route placeholder: these POST routes are answered by the fast path first."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        raise RuntimeError("fast path did not handle the request")


_SERVER_NAME = "labline"


def _server_version() -> str:
    try:
        from importlib.metadata import version

        return version("labline")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0"


class ModelServer:
    """State of one serving process: the current model, the batcher, metrics, alias following.

    Args:
        settings: batching, limits and following.
        source: where the model comes from; loaded (and verified) right away.

    Raises:
        LablineError: the model cannot be loaded or verified (from the source).
    """

    def __init__(self, settings: ServeSettings, source: ModelSource) -> None:
        self.settings = settings
        self.source = source
        self.metrics = ServingMetrics()
        self.model = ServedModel(source.load())
        self.metrics.set_model(self.model)
        self.batcher = MicroBatcher(
            max_batch_size=settings.max_batch_size,
            max_wait_s=settings.max_wait_ms / 1000.0,
            use_thread=settings.model_thread,
            observe_batch=self.metrics.observe_batch,
        )
        self.ready = True
        self._rejected: set[str] = set()
        self._follower: asyncio.Task[None] | None = None

    # -- alias following --------------------------------------------------------------------

    async def check_for_update(self) -> bool:
        """Poll the source once; load, verify and switch to a new version if the alias moved.

        In-flight requests finish on the model they were validated against.

        Returns:
            True when the server switched to another model.
        """
        try:
            digest = await asyncio.to_thread(self.source.current_digest)
        except LablineError as e:
            _log.warning("alias check for %s failed: %s", self.source.ref, e.message)
            return False
        except Exception as e:
            _log.warning("alias check for %s failed with %s", self.source.ref, type(e).__name__)
            return False
        if digest == self.model.digest or digest in self._rejected:
            return False
        try:
            new = ServedModel(await asyncio.to_thread(self.source.load))
        except (IntegrityError, ParityError, InvalidArgumentError, NotFoundError) as e:
            self._rejected.add(digest)
            _log.error(
                "not switching %s to %s; it failed verification: %s",
                self.source.ref,
                digest,
                e.message,
            )
            return False
        except Exception as e:
            msg = e.message if isinstance(e, LablineError) else type(e).__name__
            _log.warning(
                "loading the new target of %s failed (will retry): %s", self.source.ref, msg
            )
            return False
        old = self.model
        if new.digest == old.digest:
            return False
        self.model = new  # atomic swap; queued requests keep their validated model
        self.metrics.set_model(new)
        self.metrics.switches.inc()
        _log.warning(
            "switched %s from %s version %s (%s) to %s version %s (%s)",
            self.source.ref,
            old.name,
            old.version_text or "-",
            old.digest,
            new.name,
            new.version_text or "-",
            new.digest,
        )
        return True

    async def _follow_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            await self.check_for_update()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Start alias following; on shutdown stop it and drain the model thread."""
        if self.settings.follow and self.source.followable:
            self._follower = asyncio.create_task(self._follow_forever())
            _log.info("following %s every %.1fs", self.source.ref, self.settings.poll_interval_s)
        try:
            yield
        finally:
            self.ready = False
            if self._follower is not None:
                self._follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._follower
            await asyncio.to_thread(self.batcher.close)

    # -- request helpers --------------------------------------------------------------------

    def model_for(self, name: str, version: str | None) -> ServedModel:
        """The current model if ``name`` (and ``version``) designate it, else 404."""
        model = self.model
        if name != model.name:
            raise RequestError(
                404, f"unknown model {name[:64]!r}; this server serves {model.name!r}"
            )
        if version is not None and version != model.version_text:
            raise RequestError(
                404,
                f"model {model.name!r} version {version[:16]!r} is not served "
                f"(serving version {model.version_text or 'unversioned'})",
            )
        return model


def _error_response(response_cls: Any, status: int, message: str) -> Any:
    import orjson

    return response_cls(orjson.dumps({"error": message}), status_code=status, media_type=_JSON)


def create_app(settings: ServeSettings, model_source: ModelSource) -> Any:
    """Build the model server's ASGI app (Starlette).

    The model is loaded and verified before this returns, so a bad reference fails here.
    Endpoints: ``POST /predict``, the Open Inference Protocol V2 (``/v2...``) with the
    binary-data extension, and ``GET /metrics``. ``app.state.server`` is the
    :class:`ModelServer`.

    Args:
        settings: batching, limits and alias following.
        model_source: where the model comes from (:class:`RegistryModelSource` for
            ``labline serve``; :class:`StaticModelSource` for an object already loaded).

    Returns:
        A Starlette application (run it with uvicorn; the lifespan starts alias following).

    Raises:
        MissingDependencyError: the ``serve`` extra is not installed.
        LablineError: the model cannot be loaded or verified.

    Example:
        >>> app = create_app(ServeSettings(), RegistryModelSource("digits@production", s))  # doctest: +SKIP
        >>> uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    starlette_apps = import_optional("starlette.applications", "serve")
    routing = import_optional("starlette.routing", "serve")
    responses = import_optional("starlette.responses", "serve")
    exceptions = import_optional("starlette.exceptions", "serve")
    middleware = import_optional("starlette.middleware", "serve")
    import orjson

    Response = responses.Response
    server = ModelServer(settings, model_source)
    metrics = server.metrics
    batcher = server.batcher
    inflight = metrics.inflight
    perf = time.perf_counter

    def error(status: int, message: str) -> Any:
        return _error_response(Response, status, message)

    def error_status(e: Exception, endpoint: str) -> tuple[int, str]:
        if isinstance(e, RequestError):
            return e.status, e.message
        if isinstance(e, NotFoundError):
            return 404, e.message
        if isinstance(e, InvalidArgumentError):
            return 400, e.message
        if isinstance(e, ModelCallError):
            return 500, str(e)
        if isinstance(e, LablineError):
            _log.error("%s failed: %s", endpoint, e.message)
            return 500, e.message
        _log.error("%s failed with %s", endpoint, type(e).__name__)
        return 500, f"internal error ({type(e).__name__})"

    def instrument(
        endpoint: str, handler: Callable[[Any], Awaitable[Any]]
    ) -> Callable[[Any], Awaitable[Any]]:
        async def wrapped(request: Any) -> Any:
            start = perf()
            inflight.inc()
            try:
                response = await handler(request)
            except Exception as e:
                response = error(*error_status(e, endpoint))
            finally:
                inflight.dec()
            metrics.observe_request(endpoint, response.status_code, perf() - start)
            return response

        return wrapped

    # -- hot paths at the ASGI level (no per-request Request/Response objects) -------------

    limit = settings.max_body_bytes

    async def read_body(scope: Any, receive: Any) -> tuple[bytes, str | None]:
        """The (decompressed) request body and its declared Content-Type."""
        declared = -1
        encoding = b""
        content_type: str | None = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise RequestError(400, "Content-Length is not an integer") from None
                if declared > limit:
                    raise RequestError(413, f"request body exceeds the limit of {limit} bytes")
            elif key == b"content-encoding":
                encoding = value
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            parts = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] != "http.request":
                    raise RequestError(400, "client disconnected before sending the whole body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise RequestError(413, f"request body exceeds the limit of {limit} bytes")
                parts.append(chunk)
            body = b"".join(parts)
        elif len(body) > limit:
            raise RequestError(413, f"request body exceeds the limit of {limit} bytes")
        if encoding:
            body = inflate(body, encoding.decode("latin-1"), limit)
        return body, content_type

    def header(scope: Any, name: bytes) -> str | None:
        for key, value in scope["headers"]:
            if key == name:
                return value.decode("latin-1")  # type: ignore[no-any-return]
        return None

    async def answer(
        send: Any,
        endpoint: str,
        start: float,
        status: int,
        content: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        metrics.observe_request(endpoint, status, perf() - start)

    async def predict(scope: Any, receive: Any, send: Any) -> None:
        start = perf()
        inflight.inc()
        try:
            model = server.model
            batcher.arrival_started()
            try:
                body, content_type = await read_body(scope, receive)
                columns, n_rows = parse_predict(model, decode_json(body, content_type))
                future = batcher.submit(model, columns, n_rows)
            finally:
                batcher.arrival_ended()
            result = await future
            content = encode_predict(result)
            headers = [*result.model.raw_headers, _CT_JSON]
            status = 200
        except Exception as e:
            status, message = error_status(e, "/predict")
            content = orjson.dumps({"error": message})
            headers = [*server.model.raw_headers, _CT_JSON]
        finally:
            inflight.dec()
        await answer(send, "/predict", start, status, content, headers)

    async def v2_infer(scope: Any, receive: Any, send: Any) -> None:
        start = perf()
        inflight.inc()
        endpoint = _INFER
        try:
            name, version = _infer_target(scope["path"])
            if version is not None:
                endpoint = _INFER_VERSION
            batcher.arrival_started()
            try:
                model = server.model_for(name, version)
                body, content_type = await read_body(scope, receive)
                doc, columns, n_rows = decode_v2_request(
                    model, body, header(scope, b"inference-header-content-length"), content_type
                )
                future = batcher.submit(model, columns, n_rows)
            finally:
                batcher.arrival_ended()
            result = await future
            content, header_length = encode_v2_response(doc, result)
            headers = list(result.model.raw_headers)
            if header_length is None:
                headers.append(_CT_JSON)
            else:
                headers.append((b"content-type", b"application/octet-stream"))
                headers.append((b"inference-header-content-length", str(header_length).encode()))
            status = 200
        except Exception as e:
            status, message = error_status(e, endpoint)
            content = orjson.dumps({"error": message})
            headers = [*server.model.raw_headers, _CT_JSON]
        finally:
            inflight.dec()
        await answer(send, endpoint, start, status, content, headers)

    class FastPath:
        """Answers ``POST /predict`` and V2 ``infer`` before Starlette's routing."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] == "POST":
                path = scope["path"]
                if path == "/predict":
                    return await predict(scope, receive, send)
                if path.startswith("/v2/models/") and path.endswith("/infer"):
                    return await v2_infer(scope, receive, send)
            await self.app(scope, receive, send)

    # -- Open Inference Protocol V2 ---------------------------------------------------------

    async def v2_server(request: Any) -> Any:
        doc = {
            "name": _SERVER_NAME,
            "version": _server_version(),
            "extensions": ["binary_tensor_data"],
        }
        return Response(orjson.dumps(doc), media_type=_JSON)

    async def v2_live(request: Any) -> Any:
        return Response(b'{"live":true}', media_type=_JSON)

    async def v2_ready(request: Any) -> Any:
        if server.ready:
            return Response(b'{"ready":true}', media_type=_JSON)
        return Response(b'{"ready":false}', status_code=503, media_type=_JSON)

    async def v2_model(request: Any) -> Any:
        p = request.path_params
        model = server.model_for(p["name"], p.get("version"))
        doc = {
            "name": model.name,
            "versions": [model.version_text] if model.version_text else [],
            "platform": "labline",
            "inputs": model.inputs_v2(),
            "outputs": model.outputs_v2(),
            "parameters": {"digest": model.digest},
        }
        return Response(orjson.dumps(doc), media_type=_JSON, headers=model.headers)

    async def v2_model_ready(request: Any) -> Any:
        p = request.path_params
        model = server.model_for(p["name"], p.get("version"))
        ready = server.ready
        body = orjson.dumps({"name": model.name, "ready": ready})
        return Response(body, status_code=200 if ready else 503, media_type=_JSON)

    async def metrics_endpoint(request: Any) -> Any:
        body, content_type = metrics.render()
        return Response(body, headers={"content-type": content_type})

    Route = routing.Route

    def route(path: str, handler: Callable[[Any], Awaitable[Any]], method: str) -> Any:
        return Route(path, instrument(path, handler), methods=[method])

    routes = [
        Route("/predict", _NotReached(), methods=["POST"]),
        Route("/v2/models/{name}/infer", _NotReached(), methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", _NotReached(), methods=["POST"]),
        route("/v2", v2_server, "GET"),
        route("/v2/health/live", v2_live, "GET"),
        route("/v2/health/ready", v2_ready, "GET"),
        route("/v2/models/{name}", v2_model, "GET"),
        route("/v2/models/{name}/versions/{version}", v2_model, "GET"),
        route("/v2/models/{name}/ready", v2_model_ready, "GET"),
        route("/v2/models/{name}/versions/{version}/ready", v2_model_ready, "GET"),
        route("/metrics", metrics_endpoint, "GET"),
    ]

    async def http_error(request: Any, exc: Any) -> Any:
        status = int(getattr(exc, "status_code", 500))
        message = (
            "not found" if status == 404 else ("method not allowed" if status == 405 else "error")
        )
        metrics.observe_request("unmatched", status, 0.0)
        return error(status, message)

    app = starlette_apps.Starlette(
        routes=routes,
        exception_handlers={exceptions.HTTPException: http_error},
        lifespan=server.lifespan,
        middleware=[middleware.Middleware(FastPath)],
    )
    app.state.server = server
    return app
