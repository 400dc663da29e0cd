"""What every command receives: the settings and a lazily opened client."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._client import Client
from .._settings import Settings


@dataclass
class CliContext:
    """Shared state of one CLI invocation."""

    settings: Settings
    debug: bool = False
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        """The client, opened on first use (commands that need no store never open one)."""
        if self._client is None:
            self._client = Client(self.settings)
        return self._client
