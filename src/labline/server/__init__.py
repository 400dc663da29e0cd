"""``labline server``: one shared store for a team, over HTTP (an Edge: it calls ``Client`` only).

Sub-apps (the REST API under ``/api/v1``, the MLflow tracking API, the web UI) all read the
caller from the request the same way, set once by the server's authentication layer:

* ``request.state.principal``: a :class:`Principal` (the token's name and role);
* ``request.state.client``: a :class:`labline.Client` acting as that principal
  (``client.as_actor(principal.name)``), so every write records who made it.

Every route declares the one :class:`Permission` it needs: FastAPI routes with
``dependencies=[requires(Permission.X)]``, Starlette endpoints with ``@declares(...)`` and
:func:`check_permission`. Mount points and routers are listed once, in ``_app.py``.
"""

from .. import Role
from ._app import API_PREFIX, SUB_APPS, SubApp, create_app
from ._auth import TOKEN_COOKIE
from ._errors import ERROR_RESPONSES, ErrorDocument
from ._permissions import (
    PUBLIC,
    DeclaredRoute,
    check_permission,
    declares,
    request_client,
    request_principal,
    requires,
    route_permissions,
)
from ._principal import ROLE_PERMISSIONS, Permission, Principal
from ._run import run_server
from ._settings import ServerSettings, is_loopback

__all__ = [
    "API_PREFIX",
    "ERROR_RESPONSES",
    "PUBLIC",
    "ROLE_PERMISSIONS",
    "SUB_APPS",
    "TOKEN_COOKIE",
    "DeclaredRoute",
    "ErrorDocument",
    "Permission",
    "Principal",
    "Role",
    "ServerSettings",
    "SubApp",
    "check_permission",
    "create_app",
    "declares",
    "is_loopback",
    "request_client",
    "request_principal",
    "requires",
    "route_permissions",
    "run_server",
]
