"""``labline server``: one shared store for a team, over HTTP (an Edge: it calls ``Client`` only).

Sub-apps (the REST API under ``/api/v1``, the MLflow tracking API, the web UI) all read the
caller from the request the same way, set once by the server's authentication layer:

* ``request.state.principal``: a :class:`Principal` (the token's name and role);
* ``request.state.client``: a :class:`labline.Client` acting as that principal
  (``client.as_actor(principal.name)``), so every write records who made it.
"""

from ._principal import ROLE_PERMISSIONS, Permission, Principal, Role

__all__ = ["ROLE_PERMISSIONS", "Permission", "Principal", "Role"]
