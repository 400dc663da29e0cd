"""An in-process HTTP client for ASGI apps in synchronous tests: httpx's ASGI transport driven
through an anyio blocking portal (what Starlette's TestClient did), with cookies kept."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio.from_thread
import httpx


class ASGIClient:
    """``get``/``post``/... against an ASGI app, without a socket."""

    def __init__(self, app: Any, base_url: str = "http://testserver") -> None:
        self._stack = contextlib.ExitStack()
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=60
        )
        self.app = app

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookie jar sent with every request."""
        return self._http.cookies

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read its whole body."""
        return self._portal.call(lambda: self._http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._http.aclose)
        self._stack.close()


def bearer(secret: str) -> dict[str, str]:
    """The header that carries a token."""
    return {"Authorization": f"Bearer {secret}"}
