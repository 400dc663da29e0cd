"""``labline datasets list|show|create|export``: versioned datasets of reviewed items."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time


def _name_version(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@3``."""
    name, _, version = ref.partition("@")
    if not version:
        return name, None
    if not version.isdigit():
        raise click.BadParameter("use NAME or NAME@VERSION", param_hint="DATASET")
    return name, int(version)


@click.group("datasets")
def datasets() -> None:
    """Labelled datasets made of reviewed items: versioned, fingerprinted, with lineage."""


@datasets.command("list")
@click.argument("name", required=False)
@json_option
@pass_ctx
def datasets_list(ctx: CliContext, name: str | None, as_json: bool) -> None:
    """List labelled dataset versions (of NAME, or all)."""
    versions = ctx.client.list_labelled_datasets(name)
    if as_json:
        emit_json(versions)
        return
    table = Table(
        "name",
        "version",
        "examples",
        "fingerprint",
        "models",
        "created",
        "by",
        title="labelled datasets",
    )
    for d in versions:
        table.add_row(
            d.name,
            str(d.version),
            str(d.n_examples),
            d.fingerprint[:19],
            ", ".join(d.meta.get("model_versions", {})),
            fmt_time(d.created_at),
            d.created_by,
        )
    console.print(table)


@datasets.command("create")
@click.argument("name")
@click.option("--model", default=None, help="Only items answered by this registered model.")
@click.option("--reason", type=click.Choice(["deferred", "audit"]), default=None)
@json_option
@pass_ctx
def datasets_create(
    ctx: CliContext, name: str, model: str | None, reason: str | None, as_json: bool
) -> None:
    """Make a new version of NAME from the reviewed items (none if nothing changed)."""
    before = ctx.client.list_labelled_datasets(name)
    d = ctx.client.create_labelled_dataset(name, model=model, reason=reason)  # type: ignore[arg-type]
    if as_json:
        emit_json(d)
        return
    new = not before or before[-1].version != d.version
    click.echo(
        f"{d.name}@{d.version}: {d.n_examples} examples, {d.fingerprint}"
        + ("" if new else " (unchanged: no new version)")
    )


@datasets.command("show")
@click.argument("dataset")
@json_option
@pass_ctx
def datasets_show(ctx: CliContext, dataset: str, as_json: bool) -> None:
    """Show DATASET (NAME or NAME@VERSION, latest by default) with its lineage."""
    name, version = _name_version(dataset)
    d = ctx.client.get_labelled_dataset(name, version)
    examples = ctx.client.labelled_examples(d.name, d.version)
    if as_json:
        emit_json({"dataset": d, "examples": examples})
        return
    click.echo(f"{d.name}@{d.version}  {d.n_examples} examples  {d.fingerprint}")
    click.echo(f"created {fmt_time(d.created_at)} by {d.created_by}; query {dict(d.query)}")
    for key in (
        "model_versions",
        "model_digests",
        "calibrations",
        "reviewers",
        "reasons",
        "left_out",
    ):
        click.echo(f"  {key}: {d.meta.get(key)}")
    table = Table(
        "item",
        "label",
        "guess",
        "conf",
        "model",
        "calibration",
        "request",
        "decisions",
        title="lineage: label → review item → answer → model",
    )
    for e in examples[:50]:
        table.add_row(
            str(e.item_id),
            str(e.label),
            str(e.guess),
            f"{e.confidence:.3f}",
            f"{e.model_name}/{e.model_version}",
            str(e.calibration_id or ""),
            e.request_id,
            ",".join(map(str, e.decision_ids)),
        )
    console.print(table)
    if len(examples) > 50:
        click.echo(f"(+{len(examples) - 50} more; --json shows all)")


@datasets.command("export")
@click.argument("dataset")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A .parquet, .csv or .jsonl file.",
)
@json_option
@pass_ctx
def datasets_export(ctx: CliContext, dataset: str, output: Path, as_json: bool) -> None:
    """Write DATASET's table (labline_id, features, label) to a file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    name, version = _name_version(dataset)
    d = ctx.client.get_labelled_dataset(name, version)
    table = ctx.client.labelled_dataset_table(d.name, d.version)
    suffix = output.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(table, output)
    elif suffix == ".csv":
        pcsv.write_csv(table, output)
    elif suffix == ".jsonl":
        import json

        from ..core import to_jsonable

        with output.open("w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(to_jsonable(row, non_finite="null"), allow_nan=False) + "\n")
    else:
        raise click.BadParameter("use a .parquet, .csv or .jsonl file", param_hint="--output")
    if as_json:
        emit_json({"dataset": d, "path": str(output), "rows": table.num_rows})
        return
    click.echo(f"{d.name}@{d.version}: {table.num_rows} rows to {output} ({d.fingerprint})")


def register(main: click.Group) -> None:
    """Add ``datasets`` to the CLI."""
    main.add_command(datasets)
