"""The runs table: server-side paging, sorting and filtering (the ``search_runs`` grammar), a
column chooser, a grouped view (mean ± CI across seeds), and a selection kept in the URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ... import InvalidArgumentError, Run
from ...core import Field, FieldKind
from ._common import client_for, int_param, query_with

if TYPE_CHECKING:
    from ._app import WebUI

PAGE_SIZES = (25, 50, 100, 200, 500)
DEFAULT_COLUMNS = 6  # params and metrics each, when the URL names none
MAX_COLUMNS = 60
MAX_SELECTION = 200
KINDS = ("params", "metrics", "tags")


def split_list(raw: str | None, limit: int, name: str) -> list[str]:
    """A comma-separated URL list (order kept, duplicates dropped), at most ``limit`` items."""
    items: list[str] = []
    for part in (raw or "").split(","):
        part = part.strip()
        if part and part not in items:
            items.append(part)
    if len(items) > limit:
        raise InvalidArgumentError(f"{name} may list at most {limit} items, got {len(items)}")
    return items


def parse_columns(raw: str | None) -> list[tuple[str, str]]:
    """``params.lr,metrics.acc`` → ``[("params", "lr"), ("metrics", "acc")]`` (400 on others)."""
    columns = []
    for item in split_list(raw, MAX_COLUMNS, "cols"):
        kind, dot, key = item.partition(".")
        if not dot or kind not in KINDS or not key:
            raise InvalidArgumentError(
                f"cols: {item[:60]!r} must be params.KEY, metrics.KEY or tags.KEY"
            )
        columns.append((kind, key))
    return columns


def cell(run: Run, kind: str, key: str) -> Any:
    """The value a run shows in a column (a metric's last value)."""
    if kind == "params":
        return run.params.get(key)
    if kind == "tags":
        return run.tags.get(key)
    summary = run.metrics.get(key)
    return None if summary is None else summary.last_value


def available_keys(runs: Sequence[Run]) -> dict[str, list[str]]:
    """Param, metric and tag keys present on ``runs``, sorted."""
    keys: dict[str, set[str]] = {k: set() for k in KINDS}
    for run in runs:
        keys["params"].update(run.params)
        keys["metrics"].update(run.metrics)
        keys["tags"].update(k for k in run.tags if not k.startswith("labline."))
    return {k: sorted(v) for k, v in keys.items()}


def routes(ui: WebUI) -> list[BaseRoute]:
    """The runs table's routes."""

    def home(request: Request) -> Response:
        return RedirectResponse(ui.url(request, "/runs"), 307)

    def runs(request: Request) -> Response:
        client = client_for(request)
        q = request.query_params
        experiment = q.get("experiment") or None
        filter_text = q.get("filter", "").strip()
        order = q.get("order", "").strip()
        limit = int_param(request, "limit", 50, 1, 500)
        token = q.get("page") or None
        back = split_list(q.get("back"), 1000, "back")
        columns = parse_columns(q.get("cols"))
        selection = split_list(q.get("sel"), MAX_SELECTION, "sel")
        group = q.get("group", "").strip()
        experiments = client.list_experiments()
        error = None
        page: Sequence[Run] = ()
        next_token = None
        groups = []
        try:
            found = client.search_runs(
                experiment,
                filter=filter_text or None,
                order_by=[order] if order else None,
                limit=limit,
                page_token=token,
            )
            page, next_token = list(found), found.next_page_token
        except InvalidArgumentError as e:
            error = e.message
        keys = available_keys(page)
        if not columns:
            columns = [("params", k) for k in keys["params"][:DEFAULT_COLUMNS]] + [
                ("metrics", k) for k in keys["metrics"][:DEFAULT_COLUMNS]
            ]
        for kind, key in columns:
            if key not in keys[kind]:
                keys[kind].append(key)
        if group and error is None:
            metric_cols = [key for kind, key in columns if kind == "metrics"]
            try:
                groups = client.group_runs(
                    experiment, by=group, metrics=metric_cols, filter=filter_text or None
                )
            except InvalidArgumentError as e:
                error = e.message
        params = dict(q)
        context: dict[str, Any] = {
            "nav": "runs",
            "experiments": experiments,
            "experiment": experiment,
            "filter": filter_text,
            "order": order,
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "runs": page,
            "columns": columns,
            "cols_value": ",".join(f"{k}.{v}" for k, v in columns),
            "keys": keys,
            "selection": selection,
            "group": group,
            "groups": groups,
            "error": error,
            "cell": cell,
            "next_url": None
            if next_token is None
            else "?" + query_with(params, page=next_token, back=",".join([*back, token or "-"])),
            "prev_url": None
            if not back
            else "?"
            + query_with(
                params,
                page=None if back[-1] == "-" else back[-1],
                back=",".join(back[:-1]) or None,
            ),
            "sort_url": lambda field: (
                "?"
                + query_with(
                    params,
                    order=f"{field} DESC" if order != f"{field} DESC" else field,
                    page=None,
                    back=None,
                )
            ),
            "order_of": lambda field: (
                "desc" if order == f"{field} DESC" else ("asc" if order == field else "")
            ),
            "group_url": lambda value: (
                "?"
                + query_with(
                    params,
                    group=None,
                    page=None,
                    back=None,
                    filter=(f"{filter_text} and " if filter_text else "")
                    + (
                        f"{field_text('params', group)} is null"
                        if value is None
                        else f"{field_text('params', group)} = {_literal(value)}"
                    ),
                )
            ),
            "query": query_with,
            "field_text": field_text,
            "params": params,
        }
        if request.headers.get("hx-request"):  # the table alone; an error shown inside it
            response = ui.render(request, "runs_table.html", **context)
            if error:
                response.headers["X-Labline-Status"] = "400"
            return response
        return ui.render(request, "runs.html", 400 if error else 200, **context)

    return [Route("/", home), Route("/runs", runs, name="runs")]


def field_text(kind: str, key: str) -> str:
    """A column as the filter and sort grammar spells it (quoted when it must be)."""
    return str(Field(FieldKind(kind), key))


def _literal(value: str | None) -> str:
    if value is None:
        return "null"
    return "'" + value.replace("'", "''") + "'"
