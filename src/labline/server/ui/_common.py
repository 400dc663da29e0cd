"""What every page of the web UI shares: the caller, permission checks, optional features,
value formatting and the query-string helpers."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ... import Client, InvalidArgumentError
from .._principal import Permission, Principal

__all__ = [
    "Features",
    "NeedsLogin",
    "client_for",
    "detect_features",
    "format_value",
    "int_param",
    "principal_of",
    "query_with",
]


class NeedsLogin(Exception):
    """The request came without a principal: answer with the login page."""


@dataclass(frozen=True)
class Features:
    """Optional pages; a nav entry appears only when its feature is installed.

    Attributes:
        review: the review queue page (``labline.server.review``) is mounted at ``/review``.
        sweeps: the sweeps pages exist.
        monitoring: the monitoring page exists.
    """

    review: bool = False
    sweeps: bool = False
    monitoring: bool = False


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def detect_features() -> Features:
    """Which optional pages the installed labline has."""
    return Features(
        review=_exists("labline.server.review"),
        sweeps=_exists("labline._sweeps"),
        monitoring=_exists("labline._monitor"),
    )


def principal_of(request: Request) -> Principal:
    """The caller, or :class:`NeedsLogin` when the request has none."""
    principal = getattr(request.state, "principal", None)
    if principal is None or getattr(request.state, "client", None) is None:
        raise NeedsLogin()
    assert isinstance(principal, Principal)
    return principal


def client_for(request: Request, permission: Permission = Permission.READ) -> Client:
    """The caller's client after checking ``permission`` (403 naming the role otherwise)."""
    principal = principal_of(request)
    if not principal.can(permission):
        raise HTTPException(
            403, f"the role {principal.role.value!r} may not do this (it needs {permission.value})"
        )
    client = request.state.client
    assert isinstance(client, Client)
    return client


def format_value(value: Any) -> str:
    """A value as a table cell shows it (numbers compact, times to the second)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]`` (400 naming it otherwise)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be from {low} to {high}, got {value}")
    return value


def float_param(request: Request, name: str) -> float | None:
    """An optional finite number query parameter (400 naming it otherwise)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {raw[:40]!r}")
    return value


def query_with(params: Mapping[str, str], **changes: str | None) -> str:
    """``params`` as a query string with ``changes`` applied (``None`` removes a key)."""
    merged = {k: v for k, v in params.items() if v != ""}
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return urlencode(merged)
