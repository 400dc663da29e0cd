"""``labline import mlflow SOURCE``: copy an MLflow tracking store into labline."""

from __future__ import annotations

import dataclasses

import click

from ._context import CliContext, json_option, pass_ctx
from ._output import emit_json


@click.group("import")
def import_group() -> None:
    """Bring data from other tools into labline."""


@import_group.command("mlflow")
@click.argument("source")
@click.option("--experiment", default=None, help="Import only the MLflow experiment of this name.")
@json_option
@pass_ctx
def import_mlflow(ctx: CliContext, source: str, experiment: str | None, as_json: bool) -> None:
    """Import an MLflow store: SOURCE is sqlite:///path/mlflow.db or http://mlflow-host:5000.

    Experiments, runs (ids, names, times, status, parents), params, tags, full metric
    histories and artifacts. Runs imported before are skipped: importing twice imports
    nothing new. A server's token is read from MLFLOW_TRACKING_TOKEN.
    """
    report = ctx.client.import_mlflow(source, experiment=experiment)
    if as_json:
        emit_json(dataclasses.asdict(report))
        return
    click.echo(
        f"imported {report.runs_imported} runs ({report.metric_points} metric values, "
        f"{report.artifacts} files) from {len(report.experiments)} experiments; "
        f"{report.runs_skipped} already imported"
    )
    for note in report.notes:
        click.echo(f"note: {note}")


def register(group: click.Group) -> None:
    """Add ``import`` to the top-level group."""
    group.add_command(import_group)
