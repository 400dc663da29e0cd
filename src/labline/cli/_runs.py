"""``labline experiments`` and ``labline runs``."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from datetime import datetime

import click
from rich.table import Table

from .. import NotFoundError, Run
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time, fmt_value, short_list


@click.group("experiments")
def experiments() -> None:
    """Experiments: named groups of runs."""


@experiments.command("list")
@click.option("--deleted", "include_deleted", is_flag=True, help="Include deleted experiments.")
@json_option
@pass_ctx
def experiments_list(ctx: CliContext, include_deleted: bool, as_json: bool) -> None:
    """List experiments with their run counts (deleted ones only with --deleted)."""
    exps = ctx.client.list_experiments(include_deleted=include_deleted)
    counts = Counter(
        r.experiment_id for r in ctx.client.search_runs(include_deleted=include_deleted)
    )  # one query, not one per experiment
    if as_json:
        emit_json(
            [
                {
                    "id": e.id,
                    "name": e.name,
                    "created_at": e.created_at,
                    "runs": counts[e.id],
                    "deleted_at": e.deleted_at,
                    "tags": dict(e.tags),
                }
                for e in exps
            ]
        )
        return
    table = Table("id", "name", "runs", "created", title="experiments")
    for e in exps:
        name = e.name + (" [dim](deleted)[/dim]" if e.deleted else "")
        table.add_row(str(e.id), name, str(counts[e.id]), fmt_time(e.created_at))
    console.print(table)


@click.group("runs")
def runs() -> None:
    """Runs: params, metrics, datasets, predictions, artifacts, environment."""


def _parse_filters(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{what} filter {v!r} must look like key=value")
        k, _, val = v.partition("=")
        out[k] = val
    return out


@runs.command("list")
@click.option("--experiment", "-e", help="Only runs of this experiment (name or id).")
@click.option(
    "--filter",
    "-f",
    "filter_text",
    help="e.g. \"params.lr > 0.01 and metrics.accuracy >= 0.9 and status = 'finished'\".",
)
@click.option(
    "--order-by",
    "-o",
    "order_by",
    multiple=True,
    help="A field and ASC|DESC, e.g. 'metrics.accuracy DESC'; repeatable. Default: newest first.",
)
@click.option("--param", "params", multiple=True, help="key=value (exact text); repeatable.")
@click.option("--tag", "tags", multiple=True, help="key=value (exact text); repeatable.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--page-token", help="Continue a listing (printed after a full page).")
@click.option(
    "--columns",
    "-c",
    help="Comma-separated fields to show, e.g. name,status,params.lr,metrics.loss.min.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--deleted", "include_deleted", is_flag=True, help="Include deleted runs.")
@json_option
@pass_ctx
def runs_list(
    ctx: CliContext,
    experiment: str | None,
    filter_text: str | None,
    order_by: tuple[str, ...],
    params: tuple[str, ...],
    tags: tuple[str, ...],
    limit: int,
    page_token: str | None,
    columns: str | None,
    fmt: str,
    include_deleted: bool,
    as_json: bool,
) -> None:
    """List runs: filtered and sorted by the database, newest first by default; child runs
    indented under their parent; deleted runs only with --deleted."""
    found = ctx.client.search_runs(
        _experiment_ref(ctx, experiment),
        filter=filter_text,
        order_by=list(order_by) or None,
        params=_parse_filters(params, "param"),
        tags=_parse_filters(tags, "tag"),
        limit=limit,
        page_token=page_token,
        include_deleted=include_deleted,
    )
    fmt = "json" if as_json else fmt
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    records = found.to_records(wanted) if wanted or fmt == "csv" else None
    if fmt == "json":
        emit_json(records if records is not None else [_run_json(r, brief=True) for r in found])
    elif fmt == "csv":
        assert records is not None
        header = wanted or (list(records[0]) if records else ["run_id"])
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        for row in records:
            writer.writerow([_csv_cell(row[c]) for c in header])
    elif records is not None and wanted:
        table = Table(*wanted, title="runs")
        for row in records:
            table.add_row(*(_cell(row[c]) for c in wanted))
        console.print(table)
    else:
        table = Table(
            "run",
            "experiment",
            "name",
            "status",
            "started",
            "params",
            "metrics (last)",
            title="runs",
        )
        for r, depth in as_tree(list(found)):
            table.add_row(
                r.id[:12],
                r.experiment,
                ("  " * (depth - 1) + "└ " if depth else "") + r.name,
                _status(r),
                fmt_time(r.created_at),
                short_list([f"{k}={v}" for k, v in r.params.items()], 3),
                short_list([f"{k}={fmt_value(m.last_value)}" for k, m in r.metrics.items()], 3),
            )
        console.print(table)
    if found.next_page_token:
        # stderr, so that JSON and CSV on stdout stay machine-readable
        click.echo(f"more runs: add --page-token {found.next_page_token}", err=True)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return fmt_time(value)
    return fmt_value(value) if isinstance(value, float) else str(value)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def as_tree(found: list[Run]) -> list[tuple[Run, int]]:
    """``found`` with every run's children (those in ``found``) right after it, oldest first,
    and each run's depth; runs whose parent is not listed stay in their place at depth 0."""
    listed = {r.id for r in found}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for r in found:
        if r.parent_id is not None and r.parent_id in listed:
            children.setdefault(r.parent_id, []).append(r)
        else:
            roots.append(r)
    out: list[tuple[Run, int]] = []
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        run, depth = stack.pop()
        out.append((run, depth))
        kids = sorted(children.get(run.id, []), key=lambda c: (c.created_at, c.id))
        stack.extend((c, depth + 1) for c in reversed(kids))
    return out


def _experiment_ref(ctx: CliContext, experiment: str | None) -> str | int | None:
    """An experiment given by name, or by numeric id when no experiment has that name."""
    if experiment is None or not experiment.isdigit():
        return experiment
    try:
        ctx.client.get_experiment(experiment)
        return experiment
    except NotFoundError:
        return int(experiment)


def _status(r: Run) -> str:
    colour = {"finished": "green", "failed": "red", "running": "cyan", "stale": "yellow"}[
        r.status.value
    ]
    return f"[{colour}]{r.status.value}[/{colour}]" + (" [dim](deleted)[/dim]" if r.deleted else "")


def _run_json(r: Run, brief: bool = False) -> dict[str, object]:
    out: dict[str, object] = {
        "id": r.id,
        "experiment": r.experiment,
        "name": r.name,
        "status": r.status,
        "created_at": r.created_at,
        "ended_at": r.ended_at,
        "params": r.params,
        "tags": r.tags,
        "metrics": {k: m for k, m in r.metrics.items()},
        "parent_id": r.parent_id,
        "created_by": r.created_by,
        "deleted_at": r.deleted_at,
    }
    if not brief:
        out["error"] = r.error
        out["env"] = r.env
    return out


@runs.command("show")
@click.argument("run_ref", metavar="RUN")
@json_option
@pass_ctx
def runs_show(ctx: CliContext, run_ref: str, as_json: bool) -> None:
    """Show one run: status, params, metrics, datasets, predictions, artifacts, environment."""
    r = ctx.client.find_run(run_ref)
    datasets = ctx.client.list_datasets(r.id)
    preds = ctx.client.list_predictions(r.id)
    arts = ctx.client.list_artifacts(r.id)
    children = ctx.client.child_runs(r.id)
    if as_json:
        emit_json(
            {
                **_run_json(r),
                "datasets": datasets,
                "predictions": preds,
                "artifacts": arts,
                "children": [_run_json(c, brief=True) for c in children],
            }
        )
        return
    console.print(f"[bold]run {r.id}[/bold]  {r.experiment} / {r.name}  {_status(r)}")
    console.print(f"started {fmt_time(r.created_at)}   ended {fmt_time(r.ended_at) or '-'}")
    git = r.env.get("git") or {}
    if git:
        dirty = (
            " (dirty, diff sha256 " + str(git.get("diff_sha256", ""))[:12] + ")"
            if git.get("dirty")
            else ""
        )
        console.print(f"git {git.get('commit', '')[:12]} {git.get('branch', '')}{dirty}")
    if r.env:
        console.print(
            f"python {r.env.get('python', '')} on {r.env.get('host', '')}; {len(r.env.get('packages', {}))} packages"
        )
    if r.parent_id:
        console.print(f"child of run {r.parent_id}")
    if r.error:
        console.print(f"[red]error:[/red] {r.error.strip().splitlines()[-1]}")
    if r.params:
        t = Table("param", "value", title="params")
        for k, v in r.params.items():
            t.add_row(k, v)
        console.print(t)
    if r.metrics:
        t = Table("metric", "last", "step", "min", "max", "points", title="metrics")
        for k, m in r.metrics.items():
            t.add_row(
                k,
                fmt_value(m.last_value),
                str(m.last_step),
                fmt_value(m.min_value),
                fmt_value(m.max_value),
                str(m.count),
            )
        console.print(t)
    if datasets:
        t = Table("dataset", "kind", "rows", "fingerprint", title="datasets")
        for d in datasets:
            t.add_row(d.name, d.kind, "" if d.n_rows is None else str(d.n_rows), d.fingerprint[:19])
        console.print(t)
    if preds:
        t = Table("dataset", "rows", "proba", "blob", title="predictions")
        for p in preds:
            t.add_row(p.dataset, str(p.n_rows), "yes" if p.has_proba else "no", p.blob_digest[:12])
        console.print(t)
    if arts:
        t = Table("artifact", "bytes", "sha256", title="artifacts")
        for a in arts:
            t.add_row(a.path, str(a.size), a.digest[:12])
        console.print(t)
    if children:
        t = Table("run", "name", "status", "started", title="child runs")
        for c in children:
            t.add_row(c.id[:12], c.name, _status(c), fmt_time(c.created_at))
        console.print(t)


@runs.command("rename")
@click.argument("run_ref", metavar="RUN")
@click.argument("name")
@json_option
@pass_ctx
def runs_rename(ctx: CliContext, run_ref: str, name: str, as_json: bool) -> None:
    """Give RUN a new NAME."""
    r = ctx.client.rename_run(ctx.client.find_run(run_ref).id, name)
    if as_json:
        emit_json(_run_json(r, brief=True))
        return
    click.echo(f"run {r.id[:12]} is now named {r.name!r}")


def _echo_tags(r: Run, as_json: bool) -> None:
    """Print a run's tags after a tag change (the brief run JSON with ``--json``)."""
    if as_json:
        emit_json(_run_json(r, brief=True))
        return
    click.echo(
        f"run {r.id[:12]} tags: " + (short_list([f"{k}={v}" for k, v in r.tags.items()], 8) or "-")
    )


@runs.command("tag")
@click.argument("run_ref", metavar="RUN")
@click.argument("tags", nargs=-1, required=True, metavar="KEY=VALUE...")
@json_option
@pass_ctx
def runs_tag(ctx: CliContext, run_ref: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Set tags on RUN (finished runs too)."""
    run_id = ctx.client.find_run(run_ref).id
    for key, value in _parse_filters(tags, "tag").items():
        ctx.client.set_tag(run_id, key, value)
    _echo_tags(ctx.client.get_run(run_id), as_json)


@runs.command("untag")
@click.argument("run_ref", metavar="RUN")
@click.argument("keys", nargs=-1, required=True, metavar="KEY...")
@json_option
@pass_ctx
def runs_untag(ctx: CliContext, run_ref: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Remove tags from RUN."""
    run_id = ctx.client.find_run(run_ref).id
    for key in keys:
        ctx.client.delete_tag(run_id, key)
    _echo_tags(ctx.client.get_run(run_id), as_json)


@runs.command("delete")
@click.argument("run_ref", metavar="RUN")
@json_option
@pass_ctx
def runs_delete(ctx: CliContext, run_ref: str, as_json: bool) -> None:
    """Delete RUN: hidden from lists and selectors, nothing erased (see `runs restore`)."""
    r = ctx.client.delete_run(ctx.client.find_run(run_ref).id)
    if as_json:
        emit_json(_run_json(r, brief=True))
        return
    click.echo(f"run {r.id[:12]} ({r.name}) deleted; `labline runs restore {r.id[:12]}` undoes it")


@runs.command("restore")
@click.argument("run_ref", metavar="RUN")
@json_option
@pass_ctx
def runs_restore(ctx: CliContext, run_ref: str, as_json: bool) -> None:
    """Bring back a deleted RUN."""
    r = ctx.client.restore_run(ctx.client.find_run(run_ref, include_deleted=True).id)
    if as_json:
        emit_json(_run_json(r, brief=True))
        return
    click.echo(f"run {r.id[:12]} ({r.name}) restored")


def register(group: click.Group) -> None:
    """Add ``experiments`` and ``runs`` to the top-level group."""
    group.add_command(experiments)
    group.add_command(runs)
