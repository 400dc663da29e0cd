"""``labline server`` (the team server) and ``labline server token create|list|revoke``."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from .. import Client, IssuedToken, Role, TokenRecord
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time

_store_option = click.option(
    "--store",
    "store_uri",
    default=None,
    help="Metadata store URL (default: LABLINE_URI, else ./.labline).",
)
_artifacts_option = click.option(
    "--artifacts",
    "artifact_uri",
    default=None,
    help="Blob root: a folder or an fsspec URL (default: LABLINE_ARTIFACT_URI, or beside "
    "an SQLite store).",
)


def _client(ctx: CliContext, store_uri: str | None, artifact_uri: str | None) -> Client:
    if store_uri is None and artifact_uri is None:
        return ctx.client
    if ctx._client is None:
        ctx._client = Client(store_uri, artifact_uri, settings=ctx.settings)
    return ctx._client


@click.group("server", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@_store_option
@_artifacts_option
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--max-body-mb",
    default=16,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Largest request body outside uploads, in MiB.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--access-log", is_flag=True, help="One line per request (method, path, status; no bodies)."
)
@click.pass_context
def server(
    click_ctx: click.Context,
    host: str,
    port: int,
    store_uri: str | None,
    artifact_uri: str | None,
    workers: int,
    max_body_mb: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve one store to a team over HTTP: the REST API under /api/v1 (OpenAPI at
    /api/openapi.json), with tokens and roles.

    Bound to 127.0.0.1 with no token configured, requests need none (they act as you, an
    admin). Bound to any other address it refuses to start until a token exists:
    `labline server token create --name alice --role admin`.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from ..server import ServerSettings, run_server

    ctx = click_ctx.find_object(CliContext)
    assert ctx is not None
    client = _client(ctx, store_uri, artifact_uri)
    settings = ServerSettings(
        host=host,
        port=port,
        workers=workers,
        max_body_bytes=max_body_mb * 1024 * 1024,
        log_level=log_level,
        access_log=access_log,
    )
    run_server(client, settings)


@server.group("token")
def token() -> None:
    """Access tokens: create (shown once), list, revoke."""


def _token_row(t: TokenRecord) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": t.id,
        "name": t.name,
        "role": t.role.value,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "created_by": t.created_by,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
        "revoked_by": t.revoked_by,
        "active": t.active_at(now),
    }


@token.command("create")
@click.option("--name", required=True, help="Who the token is for (the actor of its writes).")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="admin, researcher, engineer, reviewer or viewer.",
)
@click.option("--expires", default=None, help="Lifetime, e.g. 30d, 12h, 2w (default: never).")
@_store_option
@_artifacts_option
@json_option
@pass_ctx
def token_create(
    ctx: CliContext,
    name: str,
    role: str,
    expires: str | None,
    store_uri: str | None,
    artifact_uri: str | None,
    as_json: bool,
) -> None:
    """Create a token and print its secret (shown this once; only its hash is stored)."""
    issued: IssuedToken = _client(ctx, store_uri, artifact_uri).create_token(
        name, role, expires=expires
    )
    if as_json:
        emit_json({**_token_row(issued.record), "secret": issued.secret})
        return
    rec = issued.record
    until = f"until {fmt_time(rec.expires_at)}" if rec.expires_at else "no expiry"
    click.echo(f"token {rec.id} for {rec.name} ({rec.role.value}, {until}):")
    click.echo(issued.secret)
    click.echo(
        "Shown once: store it now. Use it as LABLINE_TOKEN or 'Authorization: Bearer <token>'.",
        err=True,
    )


@token.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Also revoked and expired tokens.")
@_store_option
@_artifacts_option
@json_option
@pass_ctx
def token_list(
    ctx: CliContext,
    include_inactive: bool,
    store_uri: str | None,
    artifact_uri: str | None,
    as_json: bool,
) -> None:
    """List tokens (never their secrets: those are not stored)."""
    tokens = _client(ctx, store_uri, artifact_uri).list_tokens(include_inactive=include_inactive)
    if as_json:
        emit_json([_token_row(t) for t in tokens])
        return
    if not tokens:
        click.echo("no tokens (create one with `labline server token create`)")
        return
    table = Table("id", "name", "role", "prefix", "created", "by", "expires", "state")
    now = datetime.now(UTC)
    for t in tokens:
        state = "revoked" if t.revoked_at else ("expired" if not t.active_at(now) else "active")
        table.add_row(
            str(t.id),
            t.name,
            t.role.value,
            t.prefix + "...",
            fmt_time(t.created_at),
            t.created_by,
            fmt_time(t.expires_at) or "never",
            state,
        )
    console.print(table)


@token.command("revoke")
@click.argument("name", required=False)
@click.option("--id", "token_id", type=click.IntRange(1), help="Revoke this token only.")
@_store_option
@_artifacts_option
@json_option
@pass_ctx
def token_revoke(
    ctx: CliContext,
    name: str | None,
    token_id: int | None,
    store_uri: str | None,
    artifact_uri: str | None,
    as_json: bool,
) -> None:
    """Revoke every working token of NAME, or one token with --id."""
    if (name is None) == (token_id is None):
        raise click.UsageError("give a token NAME or --id (one of them)")
    target: str | int = token_id if token_id is not None else str(name)
    revoked = _client(ctx, store_uri, artifact_uri).revoke_token(target)
    if as_json:
        emit_json([_token_row(t) for t in revoked])
        return
    for t in revoked:
        click.echo(f"revoked token {t.id} of {t.name} ({t.prefix}...)")


def register(main: click.Group) -> None:
    """Add ``labline server`` to the CLI."""
    main.add_command(server)


__all__ = ["register"]
