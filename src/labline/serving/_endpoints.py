"""The model server's endpoints: one small ASGI class each, bound to a :class:`ModelServer`.

The endpoints speak ASGI directly (no per-request ``Request``/``Response`` objects on the
inference path) and raise labline exceptions for anything wrong with a request. One
:class:`ErrorAnswers` turns an exception into the answer, with handlers keyed by exception
class and the status codes from the shared table in ``labline._http_errors``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidArgumentError, LablineError, PayloadTooLargeError
from .._http_errors import error_body, http_status, is_server_error
from .._imports import import_optional
from ._codec import (
    decode_json,
    decode_v2_request,
    encode_predict,
    encode_v2_response,
    inflate,
    parse_predict,
)
from ._model import header_text
from ._server import ModelServer

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

__all__ = [
    "Answer",
    "Endpoint",
    "ErrorAnswers",
    "InferEndpoint",
    "MetricsEndpoint",
    "ModelMetadataEndpoint",
    "ModelReadyEndpoint",
    "MonitoringEndpoint",
    "PredictEndpoint",
    "ServerLiveEndpoint",
    "ServerMetadataEndpoint",
    "ServerReadyEndpoint",
]

_log = logging.getLogger("labline.serving")
orjson = import_optional("orjson", "serve")

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, bytes, Headers]
"""(status, body, headers) of one response."""

_CT_JSON = (b"content-type", b"application/json")
_MAX_REQUEST_ID = 250
_SERVER_NAME = "labline"


def _server_version() -> str:
    try:
        from importlib.metadata import version

        return version("labline")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0"


class ErrorAnswers:
    """Turns an exception raised while answering into a JSON error answer.

    Handlers are keyed by exception class and looked up along the exception's MRO (as
    Starlette's ``ExceptionMiddleware`` does). Every labline exception goes through the one
    HTTP error table (``labline._http_errors``); anything else is a bug, answered 500 with
    its type name only (third-party messages may quote the payload). Server-side failures
    (5xx) are logged, by message for labline's own errors, by type name otherwise.

    Args:
        server: supplies the headers naming the served model.
    """

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.handlers: dict[type[BaseException], Callable[[Any, str], Answer]] = {
            LablineError: self.labline_error,
            Exception: self.unexpected_error,
        }

    def answer(self, error: BaseException, endpoint: str) -> Answer:
        """The answer for ``error`` raised by ``endpoint`` (a route template, for the log)."""
        for klass in type(error).__mro__:
            handler = self.handlers.get(klass)
            if handler is not None:
                return handler(error, endpoint)
        raise error  # BaseException (cancellation, exit): not ours to answer

    def _headers(self) -> Headers:
        return [*self.server.model.raw_headers, _CT_JSON]

    def labline_error(self, error: LablineError, endpoint: str) -> Answer:
        """A labline exception: the status from the table, the message as the error."""
        status = http_status(error)
        if is_server_error(status):
            _log.error("%s failed: %s", endpoint, error.message)
        return status, error_body(error), self._headers()

    def unexpected_error(self, error: Exception, endpoint: str) -> Answer:
        """Any other exception: a 500 naming only its type."""
        _log.error("%s failed with %s", endpoint, type(error).__name__)
        return 500, error_body(f"internal error ({type(error).__name__})"), self._headers()

    async def http_exception(self, request: Request, error: Exception) -> Response:
        """Starlette's routing errors (404, 405): JSON, keeping Starlette's headers (``Allow``)."""
        responses = import_optional("starlette.responses", "serve")
        status = int(getattr(error, "status_code", 500))
        message = {404: "not found", 405: "method not allowed"}.get(status, "error")
        self.server.metrics.observe_request("unmatched", status, 0.0)
        headers = dict(getattr(error, "headers", None) or {})
        response: Response = responses.Response(
            error_body(message), status_code=status, headers=headers, media_type="application/json"
        )
        return response


class Endpoint:
    """Base of the endpoints: timing, in-flight gauge, error answers, one response.

    Subclasses implement :meth:`handle`; ``route`` is the route template, used as the
    ``endpoint`` label of the metrics.

    Args:
        server: the serving process's state.
        errors: turns exceptions into answers.
        route: the route template this instance answers.
    """

    def __init__(self, server: ModelServer, errors: ErrorAnswers, route: str) -> None:
        self.server = server
        self.errors = errors
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.server.metrics
        start = time.perf_counter()
        metrics.request_started()
        try:
            try:
                status, body, headers = await self.handle(scope, receive)
            except Exception as e:
                status, body, headers = self.errors.answer(e, self.route)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            metrics.request_ended()
        metrics.observe_request(self.route, status, time.perf_counter() - start)

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        """Answer one request; raise a labline exception for anything wrong with it."""
        raise NotImplementedError

    def _json(self, doc: Any, status: int = 200, *, model_headers: bool = False) -> Answer:
        headers: Headers = [*self.server.model.raw_headers] if model_headers else []
        headers.append(_CT_JSON)
        return status, orjson.dumps(doc), headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def request_id_of(scope: Scope, given: str | None = None) -> str:
    """The id review items name for this request: ``given`` (the V2 request's ``id``), else
    the ``X-Request-ID`` header, else a fresh random one.

    Raises:
        InvalidArgumentError: an id that is empty, longer than 250 characters or not printable.
    """
    rid = given if given is not None else _header(scope, b"x-request-id")
    if rid is None:
        return uuid.uuid4().hex
    if not 1 <= len(rid) <= _MAX_REQUEST_ID or not rid.isprintable():
        what = "the request's 'id'" if given is not None else "X-Request-ID"
        raise InvalidArgumentError(f"{what} must be 1 to {_MAX_REQUEST_ID} printable characters")
    return rid


async def read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, str | None]:
    """The (decompressed) request body and its declared Content-Type.

    Raises:
        PayloadTooLargeError: the body (declared, received or decompressed) exceeds ``limit``.
        InvalidArgumentError: a malformed Content-Length, or the client went away mid-body.
        UnsupportedMediaTypeError: an unknown Content-Encoding.
    """
    encoding = b""
    content_type: str | None = None
    too_large = f"request body exceeds the limit of {limit} bytes"
    for key, value in scope["headers"]:
        if key == b"content-type":
            content_type = value.decode("latin-1")
        elif key == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise InvalidArgumentError("Content-Length is not an integer") from None
            if declared > limit:
                raise PayloadTooLargeError(too_large)
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
                raise InvalidArgumentError("client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(too_large)
            parts.append(chunk)
        body = b"".join(parts)
    elif len(body) > limit:
        raise PayloadTooLargeError(too_large)
    if encoding:
        body = inflate(body, encoding.decode("latin-1"), limit)
    return body, content_type


class PredictEndpoint(Endpoint):
    """``POST /predict``: records or columns in, predictions and probabilities out."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        server = self.server
        batcher = server.batcher
        model = server.model
        batcher.arrival_started()
        try:
            body, content_type = await read_body(scope, receive, server.settings.max_body_bytes)
            columns, n_rows = parse_predict(model, decode_json(body, content_type))
            rid = None if model.deferral is None else request_id_of(scope)
            future = batcher.submit(model, columns, n_rows, request_id=rid)
        finally:
            batcher.arrival_ended()
        result = await future
        headers: Headers = [*result.model.raw_headers, _CT_JSON]
        if rid is not None:
            headers.append((b"x-request-id", header_text(rid).encode()))
        return 200, encode_predict(result, rid), headers


class InferEndpoint(Endpoint):
    """``POST /v2/models/{name}[/versions/{version}]/infer``: JSON or binary tensors.

    Only the outputs the request names are computed (all of them when it names none).
    """

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        server = self.server
        batcher = server.batcher
        params = scope["path_params"]
        batcher.arrival_started()
        try:
            model = server.model_for(params["name"], params.get("version"))
            body, content_type = await read_body(scope, receive, server.settings.max_body_bytes)
            request = decode_v2_request(
                model, body, _header(scope, b"inference-header-content-length"), content_type
            )
            rid = None if model.deferral is None else request_id_of(scope, request.id)
            future = batcher.submit(
                model,
                request.columns,
                request.n_rows,
                wants_proba=request.wants_proba,
                request_id=rid,
            )
        finally:
            batcher.arrival_ended()
        result = await future
        content, header_length = encode_v2_response(request, result)
        headers: Headers = [*result.model.raw_headers]
        if rid is not None:
            headers.append((b"x-request-id", header_text(rid).encode()))
        if header_length is None:
            headers.append(_CT_JSON)
        else:
            headers.append((b"content-type", b"application/octet-stream"))
            headers.append((b"inference-header-content-length", str(header_length).encode()))
        return 200, content, headers


class ServerMetadataEndpoint(Endpoint):
    """``GET /v2``: server name, version and extensions."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        return self._json(
            {
                "name": _SERVER_NAME,
                "version": _server_version(),
                "extensions": ["binary_tensor_data"],
            }
        )


class ServerLiveEndpoint(Endpoint):
    """``GET /v2/health/live``."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        return 200, b'{"live":true}', [_CT_JSON]


class ServerReadyEndpoint(Endpoint):
    """``GET /v2/health/ready``: 503 once shutting down."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        if self.server.ready:
            return 200, b'{"ready":true}', [_CT_JSON]
        return 503, b'{"ready":false}', [_CT_JSON]


class ModelMetadataEndpoint(Endpoint):
    """``GET /v2/models/{name}[/versions/{version}]``: inputs, outputs, digest."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        params = scope["path_params"]
        model = self.server.model_for(params["name"], params.get("version"))
        parameters: dict[str, Any] = {"digest": model.digest}
        if model.deferral is not None:
            parameters["calibration_id"] = model.deferral.calibration_id
            parameters["deferral_threshold"] = model.deferral.threshold
            parameters["deferral_score"] = model.deferral.score_name
        doc = {
            "name": model.name,
            "versions": [model.version_text] if model.version_text else [],
            "platform": "labline",
            "inputs": model.inputs_v2(),
            "outputs": model.outputs_v2(),
            "parameters": parameters,
        }
        return self._json(doc, model_headers=True)


class ModelReadyEndpoint(Endpoint):
    """``GET /v2/models/{name}[/versions/{version}]/ready``."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        params = scope["path_params"]
        model = self.server.model_for(params["name"], params.get("version"))
        ready = self.server.ready
        return self._json({"name": model.name, "ready": ready}, 200 if ready else 503)


class MetricsEndpoint(Endpoint):
    """``GET /metrics``: Prometheus text (all workers' when serving with several)."""

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        body, content_type = self.server.metrics.render()
        return 200, body, [(b"content-type", content_type.encode("latin-1"))]


class MonitoringEndpoint(Endpoint):
    """``GET /monitoring``: the live window against the reference profile, as JSON.

    The drift test runs in a worker thread (never on the event loop); with ``--workers N``
    the answer describes the window of the worker that received the request.
    """

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        server = self.server
        model = server.model
        monitor = server.monitor
        if monitor is None:
            doc: dict[str, Any] = {"model": dict(model.identity_json), "status": "off"}
        else:
            doc = await asyncio.to_thread(monitor.snapshot, model)
        if model.deferral is not None:
            doc["deferral"] = {"calibration": model.deferral.to_json(), **server.review.snapshot()}
        return self._json(doc, model_headers=True)
