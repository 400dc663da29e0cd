"""``labline runs artifacts`` and ``labline runs mark-failed``: what is done to a run after it
was logged."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ._context import CliContext
from ._output import console, emit_json
from ._runs import runs

pass_ctx = click.make_pass_decorator(CliContext)
json_option = click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")


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


def register(group: click.Group) -> None:
    """Add ``artifacts`` and ``mark-failed`` to the ``runs`` group (``group`` is the top level)."""
    del group  # the commands belong to ``runs``, which _runs adds to the top level
    runs.add_command(runs_artifacts)
    runs.add_command(runs_mark_failed)
