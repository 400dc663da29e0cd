"""What every command receives: the settings and a lazily opened client."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import Client, Settings


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

    def client_as(self, actor: str | None) -> Client:
        """A client recording writes as ``actor`` (the shared client when ``None``)."""
        if actor is None:
            return self.client
        return Client(
            settings=self.settings, actor=actor, store=self.client.store, blobs=self.client.blobs
        )
