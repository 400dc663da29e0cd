"""``labline db upgrade``: bring the metadata store's schema to this labline's version."""

from __future__ import annotations

import click

from ._context import CliContext, json_option, pass_ctx
from ._output import emit_json


@click.group("db")
def db() -> None:
    """The metadata database."""


@db.command("upgrade")
@json_option
@pass_ctx
def db_upgrade(ctx: CliContext, as_json: bool) -> None:
    """Apply every pending schema migration (safe to run while nothing else is migrating)."""
    status = ctx.client.upgrade_schema()
    if as_json:
        emit_json({"from": status.before, "to": status.after, "changed": status.changed})
        return
    if status.changed:
        click.echo(f"schema upgraded from {status.before or 'empty'} to {status.after}")
    else:
        click.echo(f"schema already at {status.after}")


def register(group: click.Group) -> None:
    """Add ``db`` to the top-level group."""
    group.add_command(db)
