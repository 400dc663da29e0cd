"""Errors of ``labline server``: every failure becomes ``{"error": {"type", "message",
"field"?}}`` with its status from the one HTTP table (``labline._http_errors``).

Handlers are keyed by exception class (the way Starlette's ``ExceptionMiddleware`` picks
them). Bad input is always a 4xx naming the field; a 5xx means the server is at fault and is
logged as one line naming the exception's type, never its traceback, SQL or the request's
content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from .. import LablineError
from .._http_errors import error_document, http_status, is_server_error

__all__ = [
    "ERROR_RESPONSES",
    "ErrorDetail",
    "ErrorDocument",
    "error_response",
    "install_error_handlers",
    "log",
]

log = logging.getLogger("labline.server")

_STATUS_TYPES = {
    400: "InvalidArgumentError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExistsError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    422: "InvalidArgumentError",
}


class ErrorDetail(BaseModel):
    """What went wrong: the exception's type, a message naming what is at fault, and the
    request field at fault when one is."""

    type: str
    message: str
    field: str | None = None


class ErrorDocument(BaseModel):
    """Every error answer of ``labline server``."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorDocument, "description": description}
    for status, description in (
        (400, "Bad input; the error names the field"),
        (401, "No token, or an unknown, expired or revoked one"),
        (403, "The token's role lacks the right this route needs"),
        (404, "What the request names does not exist"),
        (409, "A name or number is taken, or the object is frozen"),
        (413, "The request body is too large"),
        (415, "The request body's media type is not accepted"),
        (422, "The request is well formed but refused (e.g. the parity gate)"),
        (500, "A fault of the server (logged by type, never with the request's content)"),
        (503, "The metadata or artifact store is unavailable"),
    )
}
"""OpenAPI ``responses`` every labline route declares (the same body for every status)."""


def error_response(
    status: int, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse(dict(document), status_code=status, headers=dict(headers or {}))


def _field_of(loc: Sequence[Any]) -> str | None:
    """``("body", "runs", 0, "name")`` → ``"runs[0].name"``; ``("query", "limit")`` →
    ``"limit"``."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or None


async def _on_labline_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LablineError)
    status = http_status(exc)
    if is_server_error(status):
        log.error(
            "%s %s answered %d: %s", request.method, request.url.path, status, type(exc).__name__
        )
    field = getattr(exc, "field", None)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(
        status,
        error_document(exc, field=field if isinstance(field, str) else None),
        headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    field = _field_of(first.get("loc", ()))
    # pydantic's "msg" describes the rule broken, never the value given ("input" is dropped)
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        message, field = "the request body is not valid JSON", None
    text = f"{field}: {message}" if field else message
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(
        400,
        error_document(text, error_type="InvalidArgumentError", field=field),
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    kind = _STATUS_TYPES.get(status, "LablineError")
    if status == 404:
        message = f"no route {request.url.path!r}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path!r}"
    else:
        message = str(exc.detail) if isinstance(exc.detail, str) else "request refused"
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(status, error_document(message, error_type=kind), headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path (Starlette answers 405 from the
    first route whose path matched, naming only that route's methods)."""
    table = getattr(request.app.state, "labline_method_table", None)
    if table is None:
        from ._permissions import route_permissions

        table = [
            (compile_path(r.path)[0], r.methods) for r in route_permissions(request.app.routes)
        ]
        request.app.state.labline_method_table = table
    path = request.url.path
    matching = [(regex.groups, ms) for regex, ms in table if regex.match(path)]
    # "/runs/find" also fits "/runs/{run_id}": the most literal template is the resource
    fewest = min((groups for groups, _ in matching), default=0)
    return sorted({m for groups, ms in matching if groups == fewest for m in ms})


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "%s %s answered 500: unexpected %s", request.method, request.url.path, type(exc).__name__
    )
    return error_response(
        500, error_document("internal server error (logged by type)", error_type="LablineError")
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception on ``app`` with the structured error document."""
    app.add_exception_handler(LablineError, _on_labline_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
