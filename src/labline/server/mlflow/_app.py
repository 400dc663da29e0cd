"""The ASGI apps of the MLflow API: tracking (mounted at ``/api/2.0/mlflow`` and
``/ajax-api/2.0/mlflow``) and the artifact proxy (``/api/2.0/mlflow-artifacts``).

Each app is a class routing to :class:`Endpoint` entries (one per MLflow call, with the
:class:`~labline.server.Permission` it needs). The server's authentication layer sets
``request.state.principal`` and ``request.state.client``; an endpoint reads only those. Every
failure answers in MLflow's error format; blocking store work runs in the thread pool.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from ... import Client, LablineError
from .._permissions import PUBLIC
from .._principal import Permission, Principal
from ._errors import MlflowApiError, error_response_body, mlflow_error
from ._wire import Fields

__all__ = ["Call", "Endpoint", "MlflowAsgiApp", "json_response"]

_log = logging.getLogger("labline.server.mlflow")

MAX_JSON_BODY = 16 * 1024 * 1024
"""Largest JSON request body read (log-batch has its own 1 MB limit, MLflow's)."""


@dataclass
class Call:
    """What an endpoint gets: the caller's client and principal, the request fields, the path
    parameters, the raw body size, an uploaded file (artifact PUT) and the server's base URL."""

    client: Client
    principal: Principal
    fields: Fields
    path: Mapping[str, str]
    body_size: int = 0
    upload: str | None = None
    base_url: str = ""


Handler = Callable[[Call], "Mapping[str, Any] | Response"]


@dataclass(frozen=True)
class Endpoint:
    """One MLflow call: its path (relative to the mount), methods, permission and handler.
    ``body`` says how the request body is read: ``"json"`` (fields), ``"file"`` (streamed to a
    temporary file, for artifact uploads) or ``"none"``."""

    path: str
    methods: tuple[str, ...]
    permission: Permission | str  # or PUBLIC: a credential of its own (a part URL)
    handler: Handler
    body: str = "json"
    extra: Mapping[str, Any] = field(default_factory=dict)


def json_response(content: Mapping[str, Any], status: int = 200) -> Response:
    """A JSON answer (MLflow's server answers ``{}`` for calls that return nothing)."""
    body = json.dumps(content, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json")


def error_response(error: MlflowApiError) -> Response:
    """An answer in MLflow's error format."""
    return Response(
        error_response_body(error), status_code=error.status, media_type="application/json"
    )


async def _read_fields(request: Request) -> tuple[Fields, int]:
    if request.method in ("GET", "HEAD"):
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in data:
                prior = data[key]
                data[key] = [*prior, value] if isinstance(prior, list) else [prior, value]
            else:
                data[key] = value
        return Fields(data), 0
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BODY:
            raise MlflowApiError(
                "REQUEST_LIMIT_EXCEEDED", f"request body larger than {MAX_JSON_BODY} bytes"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return Fields(dict(request.query_params)), size
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MlflowApiError("MALFORMED_REQUEST", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "request body must be a JSON object")
    for key, value in request.query_params.items():
        data.setdefault(key, value)
    return Fields(data), size


async def _read_upload(request: Request) -> tuple[str, int]:
    fd, path = tempfile.mkstemp(prefix="labline-mlflow-upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return path, size


class MlflowAsgiApp:
    """An ASGI app serving a table of MLflow :class:`Endpoint` entries.

    Args:
        endpoints: the calls this app answers.

    Example:
        >>> from labline.server.mlflow import MlflowTrackingApp
        >>> app = MlflowTrackingApp()   # mount at /api/2.0/mlflow behind the auth layer
    """

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.endpoints = tuple(endpoints)
        self.router = Router(
            routes=[
                Route(e.path, self._endpoint(e), methods=list(e.methods)) for e in self.endpoints
            ],
            default=self._not_found,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = MlflowApiError("ENDPOINT_NOT_FOUND", "no such MLflow API endpoint")
        await error_response(error)(scope, receive, send)

    def _endpoint(self, endpoint: Endpoint) -> Callable[[Request], Any]:
        async def answer(request: Request) -> Response:
            upload = None
            try:
                principal = getattr(request.state, "principal", None)
                client = getattr(request.state, "client", None)
                if endpoint.permission == PUBLIC:
                    # the handler reads only its path and body; it never sees a caller
                    principal, client = cast(Principal, None), cast(Client, None)
                elif not isinstance(principal, Principal) or not isinstance(client, Client):
                    raise MlflowApiError("UNAUTHENTICATED", "authentication required")
                elif not principal.can(Permission(endpoint.permission)):
                    raise MlflowApiError(
                        "PERMISSION_DENIED",
                        f"role {principal.role.value!r} may not {endpoint.permission}",
                    )
                if endpoint.body == "file":
                    upload, size = await _read_upload(request)
                    fields = Fields(dict(request.query_params))
                elif endpoint.body == "json":
                    fields, size = await _read_fields(request)
                else:
                    fields, size = Fields(dict(request.query_params)), 0
                call = Call(
                    client=client,
                    principal=principal,
                    fields=fields,
                    path=dict(request.path_params),
                    body_size=size,
                    upload=upload,
                    base_url=str(request.base_url),
                )
                result = await run_in_threadpool(endpoint.handler, call)
                return result if isinstance(result, Response) else json_response(result)
            except MlflowApiError as e:
                return error_response(e)
            except LablineError as e:
                error = mlflow_error(e)
                if error.status >= 500:
                    _log.error(
                        "MLflow API %s %s failed: %s",
                        request.method,
                        endpoint.path,
                        type(e).__name__,
                    )
                return error_response(error)
            except Exception as e:  # a bug: answer MLflow's 500 without the traceback
                _log.error(
                    "MLflow API %s %s failed: %s", request.method, endpoint.path, type(e).__name__
                )
                return error_response(MlflowApiError("INTERNAL_ERROR", "internal error"))
            finally:
                if upload is not None and os.path.exists(upload):  # a handler may keep it
                    os.unlink(upload)

        return answer
