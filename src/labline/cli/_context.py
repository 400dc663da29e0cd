"""What every command shares, defined once: the context (settings, a lazily opened client),
the decorator that passes it, and the ``--json`` option."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from .. import Client, Settings

__all__ = ["CliContext", "json_option", "pass_ctx"]


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
            self._client = Client(settings=self.settings)
        return self._client

    def client_as(self, actor: str | None) -> Client:
        """A client recording writes as ``actor`` (the shared client when ``None``)."""
        return self.client if actor is None else self.client.as_actor(actor)


pass_ctx = click.make_pass_decorator(CliContext)
"""Passes the :class:`CliContext` of this invocation to a command."""

json_option = click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
"""``--json``: print only JSON on stdout (every command that prints a result takes it)."""
