"""What is done to runs and experiments after they were logged: ``labline runs artifacts``,
``runs mark-failed``, ``experiments rename/delete/restore/tag`` and ``labline gc``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from .. import Experiment, NotFoundError
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json
from ._runs import experiments, runs


@click.command("artifacts")
@click.argument("run_ref", metavar="RUN")
@click.argument("path", required=False)
@click.option(
    "--download",
    "dst",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy the files (checked against their digests) into this folder.",
)
@json_option
@pass_ctx
def runs_artifacts(
    ctx: CliContext, run_ref: str, path: str | None, dst: Path | None, as_json: bool
) -> None:
    """List the files RUN logged (under PATH, a file or folder), or copy them with --download."""
    client = ctx.client
    run = client.find_run(run_ref)
    records = client.list_artifacts(run.id, path)
    if dst is not None:
        local = client.download_artifacts(run, path, dst=dst)
        if as_json:
            emit_json(
                {
                    "run_id": run.id,
                    "path": local,
                    "files": [{**_artifact_json(a), "local_path": dst / a.path} for a in records],
                }
            )
            return
        click.echo(f"copied {len(records)} file(s) of run {run.id[:12]} to {local}")
        return
    if as_json:
        emit_json([_artifact_json(a) for a in records])
        return
    table = Table("path", "bytes", "sha256", title=f"artifacts of {run.name} ({run.id[:12]})")
    for a in records:
        table.add_row(a.path, str(a.size), a.digest[:12])
    console.print(table)


def _artifact_json(a: object) -> dict[str, object]:
    from ._output import jsonable

    out = jsonable(a)
    assert isinstance(out, dict)
    return out


@click.command("mark-failed")
@click.argument("run_ref", metavar="RUN")
@click.option("--reason", "-r", help="The error text to record.")
@json_option
@pass_ctx
def runs_mark_failed(ctx: CliContext, run_ref: str, reason: str | None, as_json: bool) -> None:
    """Mark a stale RUN failed (its process died without ending it)."""
    run = ctx.client.mark_run_failed(ctx.client.find_run(run_ref), reason)
    if as_json:
        emit_json({"id": run.id, "name": run.name, "status": run.status, "error": run.error})
        return
    click.echo(f"run {run.id[:12]} ({run.name}) marked failed")


def _experiment_json(e: Experiment) -> dict[str, object]:
    return {
        "id": e.id,
        "name": e.name,
        "created_at": e.created_at,
        "deleted_at": e.deleted_at,
        "tags": dict(e.tags),
    }


@click.command("rename")
@click.argument("experiment", metavar="EXPERIMENT")
@click.argument("name")
@json_option
@pass_ctx
def experiments_rename(ctx: CliContext, experiment: str, name: str, as_json: bool) -> None:
    """Give EXPERIMENT (name or id) a new NAME."""
    e = ctx.client.rename_experiment(_experiment_or_name(ctx, experiment), name)
    if as_json:
        emit_json(_experiment_json(e))
        return
    click.echo(f"experiment {e.id} is now named {e.name!r}")


@click.command("delete")
@click.argument("experiment", metavar="EXPERIMENT")
@json_option
@pass_ctx
def experiments_delete(ctx: CliContext, experiment: str, as_json: bool) -> None:
    """Delete EXPERIMENT and hide its runs (nothing is erased until `labline gc`)."""
    e = ctx.client.delete_experiment(_experiment_or_name(ctx, experiment))
    if as_json:
        emit_json(_experiment_json(e))
        return
    click.echo(
        f"experiment {e.name!r} deleted; `labline experiments restore {e.id}` undoes it "
        "until `labline gc` purges it"
    )


@click.command("restore")
@click.argument("experiment", metavar="EXPERIMENT")
@json_option
@pass_ctx
def experiments_restore(ctx: CliContext, experiment: str, as_json: bool) -> None:
    """Bring back a deleted EXPERIMENT and its runs."""
    e = ctx.client.restore_experiment(_experiment_or_name(ctx, experiment))
    if as_json:
        emit_json(_experiment_json(e))
        return
    click.echo(f"experiment {e.name!r} restored")


@click.command("tag")
@click.argument("experiment", metavar="EXPERIMENT")
@click.argument("tags", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--delete", "delete_keys", multiple=True, metavar="KEY", help="Remove this tag.")
@json_option
@pass_ctx
def experiments_tag(
    ctx: CliContext,
    experiment: str,
    tags: tuple[str, ...],
    delete_keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Set tags of EXPERIMENT (the last write wins) or remove them with --delete; without
    either, show them."""
    ref = _experiment_or_name(ctx, experiment)
    e = ctx.client.get_experiment(ref)
    pairs = {}
    for item in tags:
        key, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} must look like KEY=VALUE", param_hint="TAGS")
        pairs[key] = value
    if pairs:
        e = ctx.client.set_experiment_tags(e.id, pairs)
    for key in delete_keys:
        e = ctx.client.delete_experiment_tag(e.id, key)
    if as_json:
        emit_json(_experiment_json(e))
        return
    if not e.tags:
        click.echo(f"experiment {e.name!r} has no tags")
    for key, value in sorted(e.tags.items()):
        click.echo(f"{key}={value}")


def _experiment_or_name(ctx: CliContext, ref: str) -> str | int:
    """A name first; all digits and no experiment of that name: an id."""
    if not ref.isdigit():
        return ref
    try:
        ctx.client.get_experiment(ref)
        return ref
    except NotFoundError:
        return int(ref)


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only report what would be purged and removed.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    help="Seconds a new, not yet referenced blob is kept, since a live run may be about to "
    "record it (default: an hour).",
)
@click.option("--verify", is_flag=True, help="Instead: re-hash every blob and list the bad ones.")
@json_option
@pass_ctx
def gc(ctx: CliContext, dry_run: bool, grace: float | None, verify: bool, as_json: bool) -> None:
    """Purge deleted runs and experiments, then the blobs nothing references any more.

    Blobs a registered model version, a data set's predictions or a live run reference are
    never removed. With --verify, nothing is removed: every blob is re-hashed and the bad ones
    listed (exit status 1 if there are any).
    """
    client = ctx.client
    if verify:
        result = client.verify_blobs()
        if as_json:
            emit_json(result)
        else:
            for b in result.bad:
                state = "missing" if b.actual is None else f"hashes to sha256:{b.actual[:16]}…"
                click.echo(f"bad blob sha256:{b.digest} ({state}) at {b.location}")
            click.echo(f"{result.checked} blobs re-hashed, {len(result.bad)} bad")
        if result.bad:
            ctx_exit(1)
        return
    report = (
        client.gc(dry_run=dry_run) if grace is None else client.gc(dry_run=dry_run, grace=grace)
    )
    if as_json:
        emit_json(report)
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(
        f"{verb} {len(report.runs_purged)} run(s) and {len(report.experiments_purged)} "
        f"experiment(s); {'would remove' if dry_run else 'removed'} {report.blobs_removed} "
        f"blob(s), {report.bytes_freed} bytes"
    )
    if report.runs_kept:
        click.echo(
            f"kept {len(report.runs_kept)} deleted run(s) that registered model versions link to"
        )


def ctx_exit(code: int) -> None:
    """Leave with ``code`` after the output was printed."""
    click.get_current_context().exit(code)


def register(group: click.Group) -> None:
    """Add ``gc`` to the top level, ``artifacts`` and ``mark-failed`` to ``runs``, and
    ``rename``, ``delete``, ``restore`` and ``tag`` to ``experiments``."""
    group.add_command(gc)
    runs.add_command(runs_artifacts)
    runs.add_command(runs_mark_failed)
    experiments.add_command(experiments_rename)
    experiments.add_command(experiments_delete)
    experiments.add_command(experiments_restore)
    experiments.add_command(experiments_tag)
