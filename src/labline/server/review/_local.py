"""``labline review serve``: the review page alone, on this machine only, as the local user.

:class:`LocalReviewer` stands in for ``labline server``'s authentication layer: it sets
``request.state.principal`` (the local user, role reviewer) and ``request.state.client`` on
every request. It is only ever bound to a loopback address, where only this machine's users
can connect.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ... import Client, InvalidArgumentError, Role
from .._principal import Principal
from .._settings import is_loopback

__all__ = ["LocalReviewer", "serve_locally"]


class LocalReviewer:
    """Make every request the given reviewer's (their client, the reviewer role)."""

    def __init__(self, app: ASGIApp, client: Client) -> None:
        self.app = app
        self.client = client
        self.principal = Principal(client.actor, Role.REVIEWER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state["principal"] = self.principal
            state["client"] = self.client
        await self.app(scope, receive, send)


def serve_locally(client: Client, *, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Serve the review page at ``http://host:port/`` until stopped (Ctrl-C).

    Raises:
        InvalidArgumentError: ``host`` is not a loopback address (this server has no login).
    """
    import uvicorn

    from ._app import ReviewApp

    if not is_loopback(host):
        raise InvalidArgumentError(
            f"host {host!r} is not a loopback address; `labline review serve` has no login, "
            "so it serves this machine only (use `labline server` for a team)"
        )
    uvicorn.run(
        LocalReviewer(ReviewApp(), client),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )
