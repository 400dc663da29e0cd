"""``labline review list|label|export|import|stats|serve``: the review queue from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from .. import Client, ReviewItem
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time, jsonable

_STATUSES = click.Choice(["open", "claimed", "done", "pending", "all"])
_REASONS = click.Choice(["deferred", "audit"])
_ORDERS = click.Choice(["uncertainty", "time"])
as_option = click.option(
    "--as", "actor", default=None, help="Review as this user (default: the OS user)."
)


@click.group("review")
def review() -> None:
    """The review queue: answers the model deferred (and audit samples) for people to label."""


def _input_summary(item: ReviewItem) -> str:
    text = json.dumps(item.inputs, separators=(",", ":"))
    return text if len(text) <= 40 else text[:39] + "…"


@review.command("list")
@click.option("--status", type=_STATUSES, default="pending", show_default=True)
@click.option("--reason", type=_REASONS, default=None)
@click.option("--model", default=None, help="Only items of this registered model.")
@click.option("--order", type=_ORDERS, default="time", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@pass_ctx
def review_list(
    ctx: CliContext,
    status: str,
    reason: str | None,
    model: str | None,
    order: str,
    limit: int,
    as_json: bool,
) -> None:
    """List review items (pending ones by default)."""
    items = ctx.client.list_review_items(
        status=None if status == "all" else status,
        reason=reason,  # type: ignore[arg-type]
        model=model,
        order=order,  # type: ignore[arg-type]
        limit=limit,
    )
    if as_json:
        emit_json(items)
        return
    table = Table(
        "id",
        "model",
        "guess",
        "conf",
        "margin",
        "reason",
        "status",
        "reviews",
        "input",
        "created",
        title="review queue",
    )
    for i in items:
        table.add_row(
            str(i.id),
            f"{i.model_name}/{i.model_version}",
            str(i.guess),
            f"{i.confidence:.3f}",
            "" if i.margin is None else f"{i.margin:.3f}",
            i.reason,
            i.status + (f" ({i.claimed_by})" if i.claimed_by else ""),
            f"{i.reviews_done}/{i.reviews_needed}",
            _input_summary(i),
            fmt_time(i.created_at),
        )
    console.print(table)


def _decide(client: Client, item_id: int, label: str | None, reject: bool, skip: bool) -> Any:
    client.claim_review_item(item_id)
    if skip:
        return client.skip_review_item(item_id)
    if reject:
        return client.reject_review_item(item_id)
    return client.label_review_item(item_id, label)


@review.command("label")
@click.argument("item_id", type=int, required=False)
@click.argument("label", required=False)
@click.option("--reject", is_flag=True, help="None of the classes fits.")
@click.option("--skip", is_flag=True, help="Pass on the item (it goes behind the others).")
@click.option("--order", type=_ORDERS, default="uncertainty", show_default=True)
@click.option("--model", default=None, help="Only items of this registered model.")
@as_option
@json_option
@pass_ctx
def review_label(
    ctx: CliContext,
    item_id: int | None,
    label: str | None,
    reject: bool,
    skip: bool,
    order: str,
    model: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Label ITEM_ID with LABEL (or --reject / --skip it); without ITEM_ID, work through the
    queue interactively: type a class, Enter accepts the guess, x rejects, s skips, q quits."""
    client = ctx.client_as(actor)
    if item_id is not None:
        if sum([label is not None, reject, skip]) != 1:
            raise click.UsageError("give exactly one of LABEL, --reject or --skip")
        decision = _decide(client, item_id, label, reject, skip)
        if as_json:
            emit_json(decision)
        else:
            shown = decision.label if decision.kind == "label" else decision.kind
            click.echo(f"item {item_id}: {shown} (decision {decision.id})")
        return
    if as_json or label is not None or reject or skip:
        raise click.UsageError("the interactive flow takes no LABEL, --reject, --skip or --json")
    done = 0
    while True:
        item = client.next_review_item(order=order, model=model)  # type: ignore[arg-type]
        if item is None:
            click.echo(f"nothing left to review ({done} decided)")
            return
        click.echo(
            f"item {item.id}  {item.model_name}/{item.model_version}  guess={item.guess} "
            f"confidence={item.confidence:.3f}  {item.reason}"
        )
        click.echo(f"  input: {_input_summary(item)}")
        answer = click.prompt(
            "  class (Enter=guess, x=reject, s=skip, q=quit)", default="", show_default=False
        )
        answer = answer.strip()
        if answer == "q":
            client.release_review_item(item.id)
            click.echo(f"stopped ({done} decided)")
            return
        if answer == "s":
            client.skip_review_item(item.id)
            continue
        if answer == "x":
            client.reject_review_item(item.id)
        else:
            client.label_review_item(item.id, item.guess if answer == "" else answer)
        done += 1


@review.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["label-studio", "jsonl"]),
    default="label-studio",
    show_default=True,
)
@click.option("--status", type=_STATUSES, default="pending", show_default=True)
@click.option("--model", default=None, help="Only items of this registered model.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of stdout.",
)
@pass_ctx
def review_export(
    ctx: CliContext, fmt: str, status: str, model: str | None, output: Path | None
) -> None:
    """Export items: Label Studio tasks (a JSON list) or labline's JSON lines."""
    rows = ctx.client.export_review_items(
        format=fmt,  # type: ignore[arg-type]
        status=None if status == "all" else status,
        model=model,
    )
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    n = 0
    try:
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(jsonable(row), allow_nan=False) + "\n")
                n += 1
        else:
            out.write("[")
            for row in rows:
                out.write(("," if n else "") + "\n" + json.dumps(jsonable(row), allow_nan=False))
                n += 1
            out.write("\n]\n")
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"exported {n} items to {output}", err=True)


@review.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_ctx
def review_import(ctx: CliContext, path: Path, as_json: bool) -> None:
    """Import a Label Studio JSON export: each annotation becomes its annotator's decision."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise click.BadParameter(f"not a JSON file ({type(e).__name__})", param_hint="PATH") from e
    report = ctx.client.import_label_studio(tasks)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"{report.recorded} decisions recorded, {report.repeated} already there, "
        f"{report.passed} annotations without a choice, from {report.tasks} tasks"
    )


@review.command("stats")
@click.option("--model", default=None, help="Only items of this registered model.")
@json_option
@pass_ctx
def review_stats(ctx: CliContext, model: str | None, as_json: bool) -> None:
    """Queue counts, the model's accuracy on reviewed items and audit samples, agreement."""
    s = ctx.client.review_stats(model=model)
    if as_json:
        emit_json(s)
        return
    click.echo(
        f"items {s.total}: {s.open} open, {s.claimed} claimed, {s.done} done "
        f"({s.deferred} deferred, {s.audit} audit)"
    )
    click.echo(f"outcomes: {s.labelled} labelled, {s.rejected} rejected, {s.disputed} disputed")
    if s.model_checked:
        click.echo(
            f"model right on {s.model_correct}/{s.model_checked} reviewed items "
            f"({s.model_correct / s.model_checked:.1%})"
        )
    if s.audit_accuracy is not None and s.audit_ci is not None:
        lo, hi = s.audit_ci
        click.echo(
            f"live accuracy (audit samples): {s.audit_accuracy:.1%} "
            f"[{lo:.1%}, {hi:.1%}] 95% Wilson, n={s.audit_checked}"
        )
    for a in s.agreement:
        kappa = "undefined" if a.kappa is None else f"{a.kappa:.3f}"
        click.echo(
            f"agreement, {a.reviewers_per_item} reviews per item ({a.n_items} items): "
            f"{a.method} kappa {kappa}, unanimous {a.unanimous:.1%}"
        )
    if s.decisions_by_reviewer:
        who = ", ".join(f"{k} {v}" for k, v in s.decisions_by_reviewer.items())
        click.echo(f"decisions: {who}")


@review.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option("--port", type=click.IntRange(0, 65535), default=8766, show_default=True)
@as_option
@pass_ctx
def review_serve(ctx: CliContext, host: str, port: int, actor: str | None) -> None:
    """Serve the review page on this machine (keys: 1-9/0 class, Enter accept, x reject,
    space skip, Backspace undo, ? help)."""
    from ..server.review import serve_locally

    client = ctx.client_as(actor)
    click.echo(f"review page on http://{host}:{port}/ as {client.actor} (Ctrl-C stops)", err=True)
    serve_locally(client, host=host, port=port)


def register(main: click.Group) -> None:
    """Add ``review`` to the CLI."""
    main.add_command(review)
