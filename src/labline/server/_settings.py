"""How ``labline server`` runs: address, limits, logging (a frozen settings object; only the
CLI reads the command line and the environment)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["ServerSettings", "is_loopback"]

MiB = 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one ``labline server``.

    Attributes:
        host: interface to bind; anything but loopback requires tokens.
        port: TCP port.
        workers: uvicorn worker processes.
        max_body_bytes: largest request body (413 beyond it), except under upload paths.
        max_upload_bytes: largest body under the upload paths (blob chunks, artifact uploads).
        token_check_seconds: how long the answer to "are any tokens configured?" is reused
            (a loopback server without tokens lets requests in without one).
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        access_log: one line per request (method, path and status; never bodies or tokens).

    Example:
        >>> ServerSettings(host="0.0.0.0").requires_tokens
        True
    """

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    max_body_bytes: int = 16 * MiB
    max_upload_bytes: int = 1024 * MiB
    token_check_seconds: float = 1.0
    log_level: str = "info"
    access_log: bool = False

    @property
    def requires_tokens(self) -> bool:
        """Whether every request needs a token (the server is reachable beyond loopback)."""
        return not is_loopback(self.host)
