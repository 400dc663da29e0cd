"""HTML for Jupyter: the ``_repr_html_`` of runs, run search pages and model versions.

Pure and small on purpose. Every value goes through :func:`html.escape` (run names, params and
tags are user text), and tables are capped in rows and columns so a page of thousands of runs
with hundreds of params cannot blow up a notebook; what was left out is said in a footnote.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._types import Run

MAX_ROWS = 50
MAX_COLUMNS = 20
MAX_CELL_CHARS = 200


def cell(value: Any) -> str:
    """One value as escaped text: floats to 4 significant digits, None empty, long text cut."""
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    else:
        text = str(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return html.escape(text)


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: Sequence[str] = (),
    *,
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
) -> str:
    """A titled HTML table showing at most ``max_rows`` × ``max_columns``, then notes.

    Args:
        title: shown in bold above the table.
        columns: header labels.
        rows: one sequence of values per row, aligned with ``columns``.
        notes: lines listed under the table.
        max_rows: rows beyond this are left out and counted in a note.
        max_columns: columns beyond this are left out and counted in a note.

    Returns:
        The HTML fragment (a ``<div>``), every value escaped.
    """
    shown_cols = list(columns[:max_columns])
    head = "".join(f"<th>{cell(c)}</th>" for c in shown_cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row[: len(shown_cols)]) + "</tr>"
        for row in rows[:max_rows]
    )
    lines = list(notes)
    if len(rows) > max_rows:
        lines.append(f"{len(rows) - max_rows} more rows not shown ({len(rows)} in all)")
    if len(columns) > max_columns:
        lines.append(f"{len(columns) - max_columns} more columns not shown ({len(columns)} in all)")
    foot = "<ul>" + "".join(f"<li>{cell(n)}</li>" for n in lines) + "</ul>" if lines else ""
    return (
        f"<div><strong>{cell(title)}</strong>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}</div>"
    )


def runs_html(runs: Sequence[Run], next_page_token: str | None = None) -> str:
    """A page of runs: id, name, status, then every param (text) and metric (last value).

    Args:
        runs: the runs, in order.
        next_page_token: when set, a note says more pages follow.

    Returns:
        The HTML fragment.
    """
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    columns = [
        "run_id",
        "experiment",
        "name",
        "status",
        *(f"params.{k}" for k in params),
        *(f"metrics.{k}" for k in metrics),
    ]
    rows = [
        [
            r.id[:12],
            r.experiment,
            r.name,
            r.status.value,
            *(r.params.get(k) for k in params),
            *(r.metrics[k].last_value if k in r.metrics else None for k in metrics),
        ]
        for r in runs
    ]
    notes = ["more runs on the next page (next_page_token)"] if next_page_token else []
    return table(f"{len(runs)} runs", columns, rows, notes)


def run_html(run: Run) -> str:
    """One run: its identity and status, then params, metrics (last/min/max) and tags.

    Args:
        run: the run.

    Returns:
        The HTML fragment.
    """
    fields: list[tuple[str, Any]] = [
        ("id", run.id),
        ("experiment", run.experiment),
        ("name", run.name),
        ("status", run.status.value),
        ("created_at", run.created_at),
        ("ended_at", run.ended_at),
    ]
    if run.parent_id:
        fields.append(("parent_id", run.parent_id))
    if run.error:
        fields.append(("error", run.error))
    fields += [(f"params.{k}", v) for k, v in sorted(run.params.items())]
    fields += [
        (f"metrics.{k}", f"{m.last_value:.4g} (min {m.min_value:.4g}, max {m.max_value:.4g})")
        for k, m in sorted(run.metrics.items())
    ]
    fields += [(f"tags.{k}", v) for k, v in sorted(run.tags.items())]
    return table(f"Run {run.experiment}/{run.name}", ["field", "value"], fields)


def model_version_html(
    name: str,
    version: int,
    digest: str,
    run_id: str | None,
    created_at: datetime,
    created_by: str,
    meta: Mapping[str, Any],
) -> str:
    """One registered model version: name:version, digest, training run and manifest summary.

    Returns:
        The HTML fragment.
    """
    fields: list[tuple[str, Any]] = [
        ("digest", digest),
        ("run_id", run_id),
        ("created_at", created_at),
        ("created_by", created_by),
        *((f"meta.{k}", v) for k, v in sorted(meta.items())),
    ]
    return table(f"Model {name} v{version}", ["field", "value"], fields)
