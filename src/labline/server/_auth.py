"""The outermost layers of ``labline server`` (pure ASGI): who is calling, how large a body may
be, and a last guard that turns any escaped exception into a one-line log and a 500.

:class:`AuthMiddleware` sets the request contract every mounted sub-app relies on::

    scope["state"]["principal"]  a Principal (the token's name and role)
    scope["state"]["client"]     client.as_actor(principal.name)

(``request.state.principal`` / ``request.state.client`` in Starlette and FastAPI.)

A token comes as ``Authorization: Bearer <token>`` or, for browsers, in the
``labline_token`` cookie. A loopback-bound server with no working token lets a request without
one in as the server's own user with the admin role; otherwise such a request gets 401, as does
an unknown, expired or revoked token (always, whatever the address). Paths registered as public
(a login page, static files) are let through without a principal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from http.cookies import SimpleCookie
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import AuthenticationError, Client, PayloadTooLargeError, Role
from .._http_errors import error_document
from ._errors import log
from ._principal import Principal
from ._settings import ServerSettings

__all__ = ["TOKEN_COOKIE", "AuthMiddleware", "BodyLimitMiddleware", "GuardMiddleware"]

TOKEN_COOKIE = "labline_token"
"""The cookie a browser session carries its token in (set HttpOnly by the web UI's login)."""


async def _send_error(
    send: Send, status: int, document: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _credential(scope: Scope) -> str | None:
    """The token of a request: the bearer header, else the session cookie."""
    cookie_header = None
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            return rest.strip() if scheme.lower() == "bearer" else ""
        if name == b"cookie":
            cookie_header = value.decode("latin-1")
    if cookie_header:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:  # a malformed cookie header is no credential
            return None
        morsel = jar.get(TOKEN_COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value
    return None


class AuthMiddleware:
    """Resolve each request's caller and per-request client (see the module docstring).

    Args:
        app: the application to protect (every mounted sub-app included).
        client: the server's client; each request gets ``client.as_actor(name)``.
        settings: the server's settings (the bound address decides whether a request may come
            without a token while none is configured).
        is_public: whether a path may be reached without a principal.
    """

    def __init__(
        self,
        app: ASGIApp,
        client: Client,
        settings: ServerSettings,
        is_public: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.client = client
        self.settings = settings
        self.is_public = is_public
        self._tokens_known_at = -1e9
        self._tokens_configured = True

    async def _tokens_are_configured(self) -> bool:
        if self.settings.requires_tokens:
            return True
        now = time.monotonic()
        if now - self._tokens_known_at > self.settings.token_check_seconds:
            self._tokens_configured = await anyio.to_thread.run_sync(self.client.has_active_tokens)
            self._tokens_known_at = now
        return self._tokens_configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        secret = _credential(scope)
        principal: Principal | None = None
        refusal: str | None = None
        if secret:
            try:
                record = await anyio.to_thread.run_sync(self.client.authenticate, secret)
                principal = Principal(record.name, Role(record.role))
            except AuthenticationError as e:
                refusal = e.message
        elif secret == "":
            refusal = "the Authorization header must be 'Bearer <token>'"
        elif not await self._tokens_are_configured():
            principal = Principal(self.client.actor, Role.ADMIN)
        else:
            refusal = (
                "this server needs a token: send 'Authorization: Bearer <token>' "
                "(an admin creates one with `labline server token create`)"
            )
        if principal is None and (refusal is None or not self.is_public(scope["path"])):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _send_error(
                send,
                401,
                error_document(
                    refusal or "authentication required", error_type="AuthenticationError"
                ),
                [(b"www-authenticate", b"Bearer")],
            )
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["client"] = None if principal is None else self.client.as_actor(principal.name)
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies beyond a size with 413, whether they announce their length or
    stream it (then the limit is enforced while reading).

    Args:
        app: the wrapped application.
        limit_for: the largest body accepted on a path.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        too_large = error_document(
            PayloadTooLargeError(f"the request body is larger than {limit} bytes")
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced > limit:
                    await _send_error(send, 413, too_large)
                    return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLargeError(f"the request body is larger than {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # whatever the app made of the cut-off body, the answer is 413
                if message["type"] == "http.response.start":
                    started = True
                    await _send_error(send, 413, too_large)
                return
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLargeError:
            if not started:
                await _send_error(send, 413, too_large)


class GuardMiddleware:
    """The last line: an exception that escaped everything else is logged as one line (its
    type, the method and the path; no traceback, no query, no body) and answered 500 if no
    answer has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as e:
            # Starlette's ServerErrorMiddleware re-raises after answering; that answer (our
            # handler's) was already logged, so only an unanswered failure is logged here.
            if not started:
                log.error(
                    "%s %s answered 500: unexpected %s",
                    scope.get("method", "WEBSOCKET"),
                    scope.get("path", ""),
                    type(e).__name__,
                )
                if scope["type"] == "http":
                    await _send_error(
                        send,
                        500,
                        error_document(
                            "internal server error (logged by type)", error_type="LablineError"
                        ),
                    )
