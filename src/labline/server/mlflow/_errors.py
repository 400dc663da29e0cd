"""MLflow's error format: ``{"error_code": ..., "message": ...}`` with the status code the
official client relies on (the one owner of that table for the MLflow API).

labline's exceptions carry no wire codes; :func:`mlflow_error` turns one into the MLflow error
code its class stands for, looked up along the MRO as ``_http_errors`` does for labline's own
API. Messages are labline's (they name the field or object at fault, never a payload).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from ... import (
    AlreadyExistsError,
    ImmutableError,
    InvalidArgumentError,
    LablineError,
    NotFoundError,
    ParityError,
    PayloadTooLargeError,
    StorageError,
)

__all__ = ["MLFLOW_STATUS", "MlflowApiError", "error_response_body", "mlflow_error"]

MLFLOW_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "INVALID_PARAMETER_VALUE": 400,
        "RESOURCE_ALREADY_EXISTS": 400,
        "BAD_REQUEST": 400,
        "MALFORMED_REQUEST": 400,
        "INVALID_STATE": 400,
        "UNAUTHENTICATED": 401,
        "PERMISSION_DENIED": 403,
        "RESOURCE_DOES_NOT_EXIST": 404,
        "ENDPOINT_NOT_FOUND": 404,
        "RESOURCE_CONFLICT": 409,
        "REQUEST_LIMIT_EXCEEDED": 413,
        "INTERNAL_ERROR": 500,
        "NOT_IMPLEMENTED": 501,
        "TEMPORARILY_UNAVAILABLE": 503,
    }
)
"""HTTP status of each MLflow error code, as MLflow's server answers them."""

_CODE_BY_ERROR: Mapping[type[LablineError], str] = MappingProxyType(
    {
        NotFoundError: "RESOURCE_DOES_NOT_EXIST",
        AlreadyExistsError: "RESOURCE_ALREADY_EXISTS",
        PayloadTooLargeError: "REQUEST_LIMIT_EXCEEDED",
        InvalidArgumentError: "INVALID_PARAMETER_VALUE",
        ImmutableError: "INVALID_PARAMETER_VALUE",
        ParityError: "INVALID_STATE",
        StorageError: "TEMPORARILY_UNAVAILABLE",
        LablineError: "INTERNAL_ERROR",
    }
)


class MlflowApiError(Exception):
    """An answer in MLflow's error format (raised by the endpoints, rendered by the app)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status of this error code."""
        return MLFLOW_STATUS.get(self.error_code, 500)


def mlflow_error(error: LablineError) -> MlflowApiError:
    """The MLflow error a labline exception becomes (server faults get a generic message).

    Args:
        error: a labline exception.

    Returns:
        The :class:`MlflowApiError` to answer with.
    """
    for klass in type(error).__mro__:
        code = _CODE_BY_ERROR.get(klass)  # type: ignore[call-overload]
        if code is not None:
            break
    else:  # pragma: no cover - LablineError is in the table
        code = "INTERNAL_ERROR"
    if code == "INTERNAL_ERROR":
        return MlflowApiError(code, "internal error (see the server log)")
    return MlflowApiError(code, error.message)


def error_response_body(error: MlflowApiError) -> bytes:
    """``{"error_code", "message"}`` as UTF-8 JSON."""
    return json.dumps(
        {"error_code": error.error_code, "message": error.message}, ensure_ascii=False
    ).encode("utf-8")
