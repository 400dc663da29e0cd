"""One :class:`labline.Client` per process, store and actor, for the Ray side of a sweep: a Ray
worker runs many trials (and the driver's callback settles many), each on the same client."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .._settings import Settings

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["process_client"]

_CLIENTS: dict[tuple[Settings, str], Client] = {}
_LOCK = threading.Lock()


def process_client(settings: Settings, actor: str) -> Client:
    """This process's client on ``settings``' store, writing as ``actor``."""
    import labline  # the public Client: this adapter sits on it, never below it

    key = (settings, actor)
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = labline.Client(settings=settings, actor=actor)
        return _CLIENTS[key]
