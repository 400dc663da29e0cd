"""Every route of ``labline server`` declares the one :class:`Permission` it needs.

* FastAPI routes: ``dependencies=[requires(Permission.READ)]`` (the check also puts the bearer
  scheme on the route in the OpenAPI document).
* Plain Starlette endpoints of a sub-app: decorate them with ``@declares(Permission.READ)``
  and call :func:`check_permission` (or the request answers 403 through the error handler).
* A sub-app that serves a table of endpoints exposes it as ``app.endpoints`` (items with
  ``path``, ``methods`` and ``permission``), as the MLflow API does.

:func:`route_permissions` walks an app, mounted sub-apps included, and lists each route with
the permission it declares (``None`` when it declares none): the route × role test is generated
from it, so a route without a declaration fails that test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute, Mount, Route

from .. import AuthenticationError, Client, PermissionDeniedError
from ._principal import Permission, Principal

__all__ = [
    "PUBLIC",
    "DeclaredRoute",
    "PermissionCheck",
    "check_permission",
    "declares",
    "request_client",
    "request_principal",
    "requires",
    "route_permissions",
]

PUBLIC = "public"
"""What :func:`declares` takes for a route anyone may reach (a login page, static files)."""

_bearer = HTTPBearer(auto_error=False, description="A token from `labline server token create`")
F = TypeVar("F", bound=Callable[..., Any])


def request_principal(request: Request) -> Principal:
    """The caller the authentication layer resolved.

    Raises:
        AuthenticationError: the request reached a protected route without one.
    """
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise AuthenticationError("authentication required")
    return principal


def request_client(request: Request) -> Client:
    """The per-request client (``client.as_actor(principal.name)``)."""
    client = getattr(request.state, "client", None)
    if not isinstance(client, Client):
        raise AuthenticationError("authentication required")
    return client


def check_permission(request: Request, permission: Permission) -> Principal:
    """The caller, if its role holds ``permission``.

    Raises:
        AuthenticationError: no caller.
        PermissionDeniedError: the caller's role lacks ``permission`` (the message names both).
    """
    principal = request_principal(request)
    if not principal.can(permission):
        raise PermissionDeniedError(
            f"role {principal.role.value!r} of {principal.name!r} lacks the "
            f"{permission.value!r} right this route needs"
        )
    return principal


class PermissionCheck:
    """The FastAPI dependency behind :func:`requires`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(
        self,
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> Principal:
        return check_permission(request, self.permission)


def requires(permission: Permission) -> Any:
    """The dependency a FastAPI route lists to declare (and enforce) ``permission``."""
    return Depends(PermissionCheck(permission))


def declares(permission: Permission | str) -> Callable[[F], F]:
    """Mark a Starlette endpoint with the permission it checks (or :data:`PUBLIC`)."""

    def mark(endpoint: F) -> F:
        endpoint.labline_permission = permission  # type: ignore[attr-defined]
        return endpoint

    return mark


@dataclass(frozen=True)
class DeclaredRoute:
    """One route of the app and the permission it declares."""

    path: str
    methods: tuple[str, ...]
    permission: Permission | str | None


def _declared(route: BaseRoute) -> Permission | str | None:
    if isinstance(route, APIRoute):
        for dep in route.dependencies:
            if isinstance(dep, DependsParam) and isinstance(dep.dependency, PermissionCheck):
                return dep.dependency.permission
        for sub in route.dependant.dependencies:
            if isinstance(sub.call, PermissionCheck):
                return sub.call.permission
    endpoint = getattr(route, "endpoint", None)
    return getattr(endpoint, "labline_permission", None)


def route_permissions(routes: list[BaseRoute], prefix: str = "") -> Iterator[DeclaredRoute]:
    """Every route under ``routes`` (mounts walked), with what it declares."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from route_permissions(
                list(included.routes), prefix + str(getattr(context, "prefix", ""))
            )
            continue
        if isinstance(route, Mount):
            table = getattr(route.app, "endpoints", None)  # a sub-app's own endpoint table
            if table is not None and all(hasattr(e, "permission") for e in table):
                for e in table:
                    yield DeclaredRoute(
                        prefix + route.path + e.path, tuple(sorted(e.methods)), e.permission
                    )
                continue
            inner = None
            for holder in (
                route.app,
                getattr(route.app, "router", None),
                getattr(route.app, "app", None),
            ):
                inner = getattr(holder, "routes", None)
                if inner is not None:
                    break
            if inner is not None:
                yield from route_permissions(list(inner), prefix + route.path)
            continue
        if isinstance(route, Route):
            methods = tuple(sorted(route.methods or ()))
            yield DeclaredRoute(prefix + route.path, methods, _declared(route))
