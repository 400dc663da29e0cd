"""Compare: baseline and candidate groups (typed as selectors, or split from the runs table's
selection), the verdict table, a forest plot of effects with their intervals, the bootstrap
distribution, P(improvement) with its interval, the seeds-needed advice, and the hypotheses the
comparison answers. Viewing only reads: hypotheses are evaluated by an explicit button."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ... import Client, ComparisonReport, InvalidArgumentError, LablineError, Run
from ...core import format_selector
from .._principal import Permission
from ._common import client_for, float_param, int_param
from ._runs import MAX_SELECTION, split_list

if TYPE_CHECKING:
    from ._app import WebUI

SPLIT_IGNORED = ("seed",)  # never a reason to put runs in different groups


def split_selection(runs: Sequence[Run]) -> tuple[str, list[str], list[str]] | None:
    """Two groups from selected runs: by the first param (not ``seed``) taking exactly two
    values across them; the baseline is the group whose first run started first (the older
    configuration), whatever order the runs were selected in. Returns ``(param, baseline
    ids, candidate ids)`` or ``None``."""
    keys = sorted({k for r in runs for k in r.params if k not in SPLIT_IGNORED})
    for key in keys:
        values = []
        for r in runs:
            v = r.params.get(key)
            if v not in values:
                values.append(v)
        if len(values) == 2 and None not in values:
            first = [r for r in runs if r.params.get(key) == values[0]]
            second = [r for r in runs if r.params.get(key) == values[1]]
            if min(r.created_at for r in second) < min(r.created_at for r in first):
                first, second = second, first
            return key, [r.id for r in first], [r.id for r in second]
    return None


def group_selector(client: Client, group: Sequence[Run], key: str) -> str:
    """The selector of a group split from a selection: ``experiment:key=value`` when that
    picks exactly these runs (readable, and the spelling hypotheses are matched by), else
    ``runs:ID,...``."""
    experiments = {r.experiment for r in group}
    value = group[0].params.get(key)
    if len(experiments) == 1 and value is not None:
        text = format_selector(experiments.pop(), {key: value})
        try:
            if {r.id for r in client.select_runs(text)} == {r.id for r in group}:
                return text
        except LablineError:
            pass  # an unusual name or value: the explicit ids always work
    return "runs:" + ",".join(r.id for r in group)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def chart_data(report: ComparisonReport) -> dict[str, Any]:
    """What the forest plot and the bootstrap histogram draw (improvement: + is better)."""
    sign = 1.0 if report.higher_is_better else -1.0
    rows = []
    for c in report.comparisons:
        a = c.analysis
        low, high = a.improvement_ci
        hist = None
        if a.histogram is not None:
            # the histogram is of the difference; shown as improvement so + is always better
            edges = [sign * e for e in a.histogram.edges]
            counts = list(a.histogram.counts)
            if sign < 0:
                edges, counts = edges[::-1], counts[::-1]
            hist = {"edges": edges, "counts": counts}
        rows.append(
            {
                "candidate": c.candidate,
                "improvement": _finite(a.improvement),
                "low": _finite(low),
                "high": _finite(high),
                "verdict": a.verdict_text,
                "histogram": hist,
            }
        )
    return {
        "metric": report.metric,
        "margin": report.margin,
        "min_effect": next(
            (c.analysis.min_effect for c in report.comparisons if c.analysis.min_effect), None
        ),
        "rows": rows,
    }


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(data, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def routes(ui: WebUI) -> list[BaseRoute]:
    """The compare page's routes."""

    def form_state(request: Request) -> dict[str, Any]:
        client = client_for(request)
        q = request.query_params
        baseline = q.get("baseline", "").strip()
        candidates = [c.strip() for c in q.getlist("candidate") if c.strip()]
        note = None
        selected = split_list(q.get("runs"), MAX_SELECTION, "runs")
        if selected and not baseline:
            runs = [client.get_run(r) for r in selected]
            split = split_selection(runs)
            if split is None:
                note = (
                    "The selected runs do not split into two groups by one param; "
                    "write the groups as selectors below."
                )
                baseline = "runs:" + ",".join(r.id for r in runs)
            else:
                key, first, second = split
                note = (
                    f"Split the {len(runs)} selected runs by {key!r}: "
                    f"{len(first)} baseline runs (the group started first) and "
                    f"{len(second)} candidate runs."
                )
                by_id = {r.id: r for r in runs}
                baseline = group_selector(client, [by_id[i] for i in first], key)
                candidates = [group_selector(client, [by_id[i] for i in second], key)]
        return {
            "baseline": baseline,
            "candidates": candidates or [""],
            "metric": q.get("metric", "").strip() or "accuracy",
            "dataset": q.get("dataset", "").strip(),
            "min_effect": q.get("min_effect", "").strip(),
            "margin": q.get("margin", "").strip(),
            "alpha": q.get("alpha", "").strip() or "0.05",
            "note": note,
        }

    def compare_page(request: Request) -> Response:
        state = form_state(request)
        ready = bool(state["baseline"] and any(state["candidates"]))
        query = request.url.query
        if request.query_params.get("runs") and ready:
            from urllib.parse import urlencode

            pairs = [("baseline", state["baseline"])]
            pairs += [("candidate", c) for c in state["candidates"]]
            pairs += [(k, state[k]) for k in ("metric", "dataset", "min_effect", "margin", "alpha")]
            query = urlencode([(k, v) for k, v in pairs if v])
        return ui.render(
            request, "compare.html", nav="compare", ready=ready, result_query=query, **state
        )

    def compare_result(request: Request) -> Response:
        client = client_for(request)
        state = form_state(request)
        alpha = float_param(request, "alpha")
        min_effect = float_param(request, "min_effect")
        margin = float_param(request, "margin")
        resamples = int_param(request, "resamples", 10_000, 100, 100_000)
        candidates = [c for c in state["candidates"] if c]
        if not state["baseline"] or not candidates:
            raise InvalidArgumentError("give a baseline and at least one candidate selector")
        report = client.compare(
            state["baseline"],
            candidates,
            state["metric"],
            dataset=state["dataset"] or None,
            alpha=0.05 if alpha is None else alpha,
            min_effect=min_effect,
            margin=margin,
            n_resamples=resamples,
            evaluate_hypotheses=False,  # a page view only reads
        )
        hypotheses = client.matching_hypotheses(report)
        return ui.render(
            request,
            "compare_result.html",
            report=report,
            hypotheses=hypotheses,
            charts=script_json(chart_data(report)),
            can_evaluate=request.state.principal.can(Permission.WRITE_RUNS),
        )

    return [
        Route("/compare", compare_page, name="compare"),
        Route("/compare/result", compare_result, name="compare_result"),
    ]
