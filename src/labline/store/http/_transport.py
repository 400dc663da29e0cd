"""The HTTP connection to ``labline server``: one ``httpx.Client`` (keep-alive, the bearer
token), errors turned back into labline's exceptions, and retries with exponential backoff and
jitter for requests that are safe to repeat.

A request is repeated only when repeating cannot change the outcome: reads, content-addressed
blob uploads, metric batches (stored once per writer and sequence number), and any request
that never reached the server (the connection was refused). The server's answer names the
exception class in ``{"error": {"type": ...}}``, so the caller gets the same exception the
server raised.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from ... import _exceptions
from ..._exceptions import LablineError, StorageError

__all__ = ["HttpTransport", "RetryPolicy", "path_segment"]


def path_segment(part: str | int) -> str:
    """A path segment, percent-encoded (names may hold '/', spaces, ...)."""
    return quote(str(part), safe="")


class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``k`` (from 0) waits a random time in
    ``[0, min(cap, base * 2**k)]``; at most ``attempts`` tries, none after ``deadline`` seconds.
    """

    def __init__(
        self, attempts: int = 8, base: float = 0.1, cap: float = 5.0, deadline: float = 60.0
    ) -> None:
        self.attempts, self.base, self.cap, self.deadline = attempts, base, cap, deadline

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return random.uniform(0.0, min(self.cap, self.base * 2**attempt))


_RETRY_STATUS = frozenset({502, 503, 504})


def _error(response: httpx.Response) -> LablineError:
    """The labline exception a server error document describes."""
    try:
        doc = response.json()["error"]
        name, message = str(doc["type"]), str(doc["message"])
        field = doc.get("field")
    except (ValueError, KeyError, TypeError):
        return StorageError(f"labline server answered {response.status_code} without an error")
    cls = getattr(_exceptions, name, None)
    if not (isinstance(cls, type) and issubclass(cls, LablineError)):
        cls = StorageError if response.status_code >= 500 else _exceptions.InvalidArgumentError
    try:
        error = cls(message)
    except TypeError:  # built from parts (ParamConflictError, ...): the server's text stands
        error = cls.__new__(cls)
        LablineError.__init__(error, message)
    if field is not None:
        error.field = field  # type: ignore[attr-defined]
    return error


class HttpTransport:
    """Requests to one server (``base_url`` like ``http://host:5000``), thread-safe."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"user-agent": "labline-http-store"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )
        self._closed = threading.Event()

    def close(self) -> None:
        """Close the connections."""
        self._closed.set()
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request and return the response (2xx, or a status listed in ``ok``).

        Args:
            idempotent: whether the request may be repeated after a failure that may have
                reached the server (default: GET and HEAD are).

        Raises:
            LablineError: the exception the server answered with (NotFoundError for a 404,
                ...), or StorageError when the server cannot be reached after the retries.
        """
        repeatable = method in ("GET", "HEAD") if idempotent is None else idempotent
        body = None if json_body is None else json.dumps(json_body, allow_nan=False).encode()
        send_headers = dict(headers or {})
        if body is not None:
            send_headers["content-type"] = "application/json"
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    path,
                    content=body if body is not None else content,
                    params=params,
                    headers=send_headers,
                )
            except httpx.ConnectError as e:  # never reached the server: always safe to repeat
                failure: Exception = e
            except (httpx.TransportError, httpx.TimeoutException) as e:
                if not repeatable:
                    raise StorageError(
                        f"labline server at {self.base_url} did not answer: {type(e).__name__}"
                    ) from None
                failure = e
            else:
                if response.status_code < 400 or response.status_code in ok:
                    return response
                if not (repeatable and response.status_code in _RETRY_STATUS):
                    raise _error(response)
                failure = _error(response)
            if (
                attempt + 1 >= self.retry.attempts
                or time.monotonic() - start > self.retry.deadline
                or self._closed.is_set()
            ):
                raise StorageError(
                    f"cannot reach labline server at {self.base_url} "
                    f"({type(failure).__name__} after {attempt + 1} attempts)"
                ) from None
            time.sleep(self.retry.delay(attempt))
            attempt += 1

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request`, returning the decoded JSON body (``None`` for 204)."""
        response = self.request(method, path, **kwargs)
        return None if response.status_code == 204 or not response.content else response.json()

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """A streamed GET (the body read chunk by chunk).

        Raises:
            LablineError: as :meth:`request`.
        """
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                yield response
        except httpx.TransportError as e:
            raise StorageError(
                f"labline server at {self.base_url} did not answer: {type(e).__name__}"
            ) from None
