"""The one HTTP error table: which status and JSON body each labline exception becomes.

Both HTTP servers (the model server in ``serving/`` and ``labline server``) answer errors
through this module, so the same exception gets the same status everywhere. The exceptions
themselves carry no wire codes (``_exceptions.py``); the mapping lives here, keyed by
exception class and looked up along the exception's MRO, the way Starlette's
``ExceptionMiddleware`` picks a handler: the most specific class listed wins.

Two bodies, one table: the model server answers ``{"error": "<message>"}``
(:func:`error_body`); ``labline server`` answers the structured
``{"error": {"type": "NotFoundError", "message": "...", "field": "..."}}``
(:func:`error_document`), whose ``type`` is the exception's class name so an HTTP client can
raise the same exception again. labline's messages name the field, tensor or object at fault
and never quote a payload, so they are safe to return and to log.

Example:
    >>> from labline import NotFoundError
    >>> http_status(NotFoundError("no model 'x'"))
    404
    >>> error_body(NotFoundError("no model 'x'"))
    b'{"error": "no model \\'x\\'"}'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from ._exceptions import (
    AlreadyExistsError,
    AuthenticationError,
    ConflictError,
    ImmutableError,
    IntegrityError,
    InvalidArgumentError,
    LablineError,
    MissingDependencyError,
    ModelError,
    NotFoundError,
    ParityError,
    PayloadTooLargeError,
    PermissionDeniedError,
    StorageError,
    UnsupportedMediaTypeError,
)

__all__ = [
    "HTTP_STATUS_BY_ERROR",
    "error_body",
    "error_document",
    "http_status",
    "is_server_error",
]

HTTP_STATUS_BY_ERROR: Mapping[type[LablineError], int] = MappingProxyType(
    {
        # client errors: the request is at fault
        InvalidArgumentError: 400,  # SchemaError and ParamConflictError included
        PayloadTooLargeError: 413,
        UnsupportedMediaTypeError: 415,
        NotFoundError: 404,
        AlreadyExistsError: 409,
        ImmutableError: 409,
        ConflictError: 409,
        ParityError: 422,  # a promotion the parity gate refused
        AuthenticationError: 401,  # no token, or an unknown, expired or revoked one
        PermissionDeniedError: 403,  # the token's role lacks the right
        # server errors: the request was fine
        ModelError: 500,
        IntegrityError: 500,  # stored content is corrupt
        MissingDependencyError: 500,
        StorageError: 503,  # the database or the object store is unavailable
        LablineError: 500,
    }
)
"""Status code of each exception class; a subclass not listed takes its nearest base's."""


def http_status(error: LablineError) -> int:
    """The HTTP status code for ``error`` (the entry of its most specific listed class).

    Args:
        error: a labline exception.

    Returns:
        The status code from :data:`HTTP_STATUS_BY_ERROR`.
    """
    for klass in type(error).__mro__:
        status = HTTP_STATUS_BY_ERROR.get(klass)  # type: ignore[call-overload]
        if status is not None:
            return int(status)
    return 500  # pragma: no cover - LablineError is in the table


def is_server_error(status: int) -> bool:
    """True for 5xx statuses: the server, not the request, is at fault (log these)."""
    return status >= 500


def error_body(error: LablineError | str) -> bytes:
    """The JSON body of an error answer, ``{"error": message}``.

    Args:
        error: a labline exception (its message is used) or a message.

    Returns:
        UTF-8 JSON bytes.
    """
    message = error.message if isinstance(error, LablineError) else error
    return json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")


def error_document(
    error: LablineError | str, *, error_type: str | None = None, field: str | None = None
) -> dict[str, dict[str, str]]:
    """The structured error of ``labline server``:
    ``{"error": {"type": ..., "message": ..., "field"?: ...}}``.

    Args:
        error: a labline exception (its class name is the type, its message the message) or a
            message.
        error_type: the type when ``error`` is a message (default ``"LablineError"``).
        field: the request field at fault (a body key, query parameter or path parameter).

    Returns:
        The JSON-ready document.

    Example:
        >>> from labline import NotFoundError
        >>> error_document(NotFoundError("no run 'x'"))
        {'error': {'type': 'NotFoundError', 'message': "no run 'x'"}}
    """
    if isinstance(error, LablineError):
        kind, message = type(error).__name__, error.message
    else:
        kind, message = error_type or "LablineError", error
    inner = {"type": kind, "message": message}
    if field is not None:
        inner["field"] = field
    return {"error": inner}
