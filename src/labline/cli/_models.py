"""``labline models list/show/history/promote/diff/verify``."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .. import parse_model_ref
from ..models import DEFAULT_TOLERANCE
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time


@click.group("models")
def models() -> None:
    """Registered models: immutable versions, aliases with history, the parity gate."""


@models.command("list")
@click.argument("name", required=False)
@json_option
@pass_ctx
def models_list(ctx: CliContext, name: str | None, as_json: bool) -> None:
    """List registered models, or the versions of NAME."""
    client = ctx.client
    if name is None:
        ms = client.list_models()
        if as_json:
            emit_json(ms)
            return
        table = Table("name", "latest", "aliases", "created", title="models")
        for m in ms:
            pointers = ", ".join(f"{a}→{v}" for a, v in m.aliases.items())
            table.add_row(m.name, str(m.latest_version or ""), pointers, fmt_time(m.created_at))
        console.print(table)
        return
    versions = client.list_model_versions(name)
    aliases: dict[int, list[str]] = {}
    for a in client.list_aliases(name):
        aliases.setdefault(a.version, []).append(a.alias)
    if as_json:
        emit_json([{**_version_json(v), "aliases": aliases.get(v.version, [])} for v in versions])
        return
    table = Table("version", "digest", "adapter", "run", "aliases", "created", "by", title=name)
    for v in versions:
        table.add_row(
            str(v.version),
            v.digest[:19],
            str(v.meta.get("adapter", "")),
            v.run_id or "",
            ", ".join(aliases.get(v.version, [])),
            fmt_time(v.created_at),
            v.created_by,
        )
    console.print(table)


def _version_json(v: object) -> dict[str, object]:
    from ._output import jsonable

    out = jsonable(v)
    assert isinstance(out, dict)
    return out


@models.command("show")
@click.argument("ref")
@json_option
@pass_ctx
def models_show(ctx: CliContext, ref: str, as_json: bool) -> None:
    """Show a version: REF is name/3, name@alias or name (latest)."""
    client = ctx.client
    resolved = client.resolve_model(ref)
    if resolved.version is None:
        raise click.BadParameter("use name/version, name@alias or name", param_hint="REF")
    mv = client.get_model_version(resolved.name, resolved.version)
    manifest = client.get_manifest(mv.digest)
    if as_json:
        emit_json({"version": _version_json(mv), "manifest": manifest.to_json()})
        return
    console.print(f"[bold]{mv.name}/{mv.version}[/bold]  {mv.digest}")
    console.print(
        f"adapter {manifest.adapter}, python {manifest.python_version}, run {mv.run_id or '-'}"
    )
    console.print("input: " + ", ".join(f"{f.name}: {f.describe()}" for f in manifest.input_schema))
    if manifest.classes is not None:
        console.print(f"classes: {list(manifest.classes)}")
    console.print(
        "requirements: " + ", ".join(f"{k}=={v}" for k, v in manifest.requirements.items())
    )
    for d in manifest.datasets:
        console.print(f"dataset {d['name']}: {d['fingerprint']}")
    table = Table("file", "sha256", "size")
    for f in manifest.files:
        table.add_row(f.path, f.sha256[:16], str(f.size))
    console.print(table)


@models.command("history")
@click.argument("ref")
@click.option("--at", "at", help="ISO time: print only which version was live then.")
@json_option
@pass_ctx
def models_history(ctx: CliContext, ref: str, at: str | None, as_json: bool) -> None:
    """Alias history of REF (name@alias, or name for every alias)."""
    parsed = parse_model_ref(ref)
    name, alias, version = parsed.name, parsed.alias, parsed.version
    if version is not None:
        raise click.BadParameter("use name@alias or name", param_hint="REF")
    client = ctx.client
    if at is not None:
        if alias is None:
            raise click.BadParameter("--at needs name@alias", param_hint="REF")
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(f"not an ISO time: {at[:60]!r}", param_hint="--at") from None
        if when.tzinfo is None:
            when = when.astimezone()  # a time typed without zone is local time
        live = client.alias_version_at(name, alias, when)
        if as_json:
            emit_json({"name": name, "alias": alias, "at": when, "version": live})
        else:
            click.echo(
                f"{name}@{alias} at {when.isoformat()}: "
                + ("not set" if live is None else f"version {live}")
            )
        return
    events = client.alias_history(name, alias)
    if as_json:
        emit_json(events)
        return
    table = Table("when", "alias", "from", "to", "who", "parity", "why", title=f"{ref} history")
    for e in events:
        table.add_row(
            fmt_time(e.at),
            e.alias,
            "-" if e.from_version is None else str(e.from_version),
            str(e.to_version),
            e.actor,
            e.parity,
            e.reason,
        )
    console.print(table)


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", "-a", required=True, help="Alias to move, e.g. production.")
@click.option("--reason", "-r", help="Why (recorded in the history; required with --skip-parity).")
@click.option("--skip-parity", is_flag=True, help="Move the alias without the parity replay.")
@click.option(
    "--tolerance",
    type=float,
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest accepted probability difference in the replay.",
)
@click.option("--actor", help="Who is promoting (default: the OS user).")
@json_option
@pass_ctx
def models_promote(
    ctx: CliContext,
    name: str,
    version: int,
    alias: str,
    reason: str | None,
    skip_parity: bool,
    tolerance: float,
    actor: str | None,
    as_json: bool,
) -> None:
    """Point NAME@ALIAS at VERSION after a parity replay in a fresh interpreter."""
    client = ctx.client_as(actor)
    if not as_json and not skip_parity:
        client.get_model_version(name, version)  # unknown: fail before "replaying..." is shown
        click.echo(f"replaying {name}/{version} in a fresh interpreter...", err=True)
    result = client.promote(
        name,
        version,
        alias,
        reason=reason,
        skip_parity=skip_parity,
        tolerance=tolerance,
    )
    if as_json:
        emit_json(
            {
                "event": result.event,
                "parity": None if result.parity is None else result.parity.to_json(),
            }
        )
        return
    if result.parity is not None:
        click.echo(result.parity.summary())
    ev = result.event
    was = "unset" if ev.from_version is None else f"version {ev.from_version}"
    click.echo(f"{name}@{alias}: {was} → version {ev.to_version}")


@models.command("register")
@click.argument("source", metavar="RUN[/PATH]")
@click.option("--name", "-n", required=True, help="The registered model's name.")
@click.option("--version", type=click.IntRange(min=1), help="Insist on this version number.")
@click.option("--actor", help="Who is registering (default: the OS user).")
@json_option
@pass_ctx
def models_register(
    ctx: CliContext,
    source: str,
    name: str,
    version: int | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Register the model package RUN logged at PATH (default: model) as a version of NAME.

    The package was logged earlier with ``run.log_model(model)`` (no name); its files are
    checked against their digests, and the version links to RUN.
    """
    mv = ctx.client_as(actor).register_model(source, name=name, version=version)
    if as_json:
        emit_json(_version_json(mv))
        return
    click.echo(f"registered {mv.name}/{mv.version} ({mv.digest[:19]}) from run {mv.run_id}")


@models.command("diff")
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@json_option
@pass_ctx
def models_diff(ctx: CliContext, name: str, a: int, b: int, as_json: bool) -> None:
    """Compare versions A and B of NAME: params, metrics, data fingerprints, code."""
    d = ctx.client.diff_model_versions(name, a, b)
    if as_json:
        emit_json(d)
        return
    for title, section in (
        ("params", d.params),
        ("metrics", d.metrics),
        ("datasets", d.datasets),
        ("requirements", d.requirements),
        ("files", d.files),
    ):
        if not section:
            continue
        table = Table("key", f"v{a}", f"v{b}", title=title)
        for k, (x, y) in section.items():
            table.add_row(k, "-" if x is None else str(x), "-" if y is None else str(y))
        console.print(table)
    if d.code:
        click.echo(d.code, nl=False)
    elif not any((d.params, d.metrics, d.datasets, d.requirements, d.files)):
        click.echo(f"{name}/{a} and {name}/{b} do not differ")


@models.command("verify")
@click.argument("ref", required=False, metavar="[NAME[/VERSION]]")
@click.option("--all", "every", is_flag=True, help="Every version of every model.")
@json_option
@pass_ctx
def models_verify(ctx: CliContext, ref: str | None, every: bool, as_json: bool) -> None:
    """Re-hash the blob store's copies of model packages; list every bad file.

    NAME checks every version of NAME, NAME/VERSION (or NAME@ALIAS) one version, --all every
    model. Exits with 1 when any file is bad. Loads check the local copy they load; this
    checks the store those copies are built from.
    """
    if (ref is None) == (not every):
        raise click.UsageError("give NAME[/VERSION] or --all (not both)")
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task("re-hashing blobs", total=None)
        report = ctx.client.verify_models(
            ref, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    if as_json:
        emit_json({"checked": report.checked, "ok": report.ok, "bad": report.bad})
    elif report.ok:
        click.echo(f"{report.checked} blobs checked: every file matches its SHA-256")
    else:
        table = Table("package files", "blob", "found", title="bad blobs")
        for b in report.bad:
            table.add_row(
                "\n".join(b.used_by), b.location, "missing" if b.actual is None else b.actual[:16]
            )
        console.print(table)
        click.echo(f"{len(report.bad)} of {report.checked} blobs are bad", err=True)
    if not report.ok:
        click.get_current_context().exit(1)


def register(group: click.Group) -> None:
    """Add ``models`` to the top-level group."""
    group.add_command(models)
