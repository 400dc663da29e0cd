"""Sweeps: the list of sweeps, one sweep's trials as a parallel-coordinates plot with its
expected-best-score-against-budget curve, and two sweeps compared at equal budget (in trials
or in compute time: the curves with their bands, where they cross, and the verdict).

The statistics are the sweeps service's (``client.sweeps.summary`` and
``client.compare_sweeps``: Tang et al.'s unbiased estimator, the smoothed bootstrap band, the
permutation verdict), the same ``labline sweep show`` and ``labline compare-sweeps`` print;
this module only shapes the charts' data."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ... import Client, InvalidArgumentError, Sweep, Trial, TrialState
from ...core.stats import ExpectedBestCurve
from ._common import client_for, float_param
from ._compare import script_json

if TYPE_CHECKING:
    from ._app import WebUI

MAX_PARALLEL_TRIALS = 5000  # lines in the parallel-coordinates plot
MAX_TABLE_TRIALS = 1000


def trial_seconds(trial: Trial) -> float | None:
    """How long a trial ran (for the trials table), or ``None`` without both times."""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return max(0.0, (trial.datetime_complete - trial.datetime_start).total_seconds())


def find_sweep(client: Client, ref: str) -> Sweep:
    """A sweep by id or name (400 when empty)."""
    ref = ref.strip()
    if not ref:
        raise InvalidArgumentError("sweep: give a sweep's name or id")
    return client.sweeps.get(int(ref) if ref.isdigit() else ref)


def _axis(name: str, trials: Sequence[Trial]) -> dict[str, Any]:
    """A parallel axis for param ``name``: categories from its distribution, else numbers (on
    a log scale when the distribution is logarithmic)."""
    distribution: dict[str, Any] = {}
    for t in trials:
        if name in t.params:
            try:
                distribution = json.loads(t.params[name].distribution)
            except ValueError:
                distribution = {}
            break
    attributes = distribution.get("attributes", {}) if isinstance(distribution, dict) else {}
    if isinstance(attributes, dict) and "choices" in attributes:
        return {"name": name, "type": "category", "data": [str(c) for c in attributes["choices"]]}
    return {"name": name, "type": "log" if attributes.get("log") else "value", "scale": True}


def parallel_data(sweep: Sweep, trials: Sequence[Trial]) -> dict[str, Any]:
    """What the parallel-coordinates plot draws: one axis per param then the objective, one
    line per complete trial (a categorical param as its choice, a numeric one as its value)."""
    complete = [t for t in trials if t.state is TrialState.COMPLETE and t.values]
    complete = complete[-MAX_PARALLEL_TRIALS:]
    names: list[str] = []
    for t in complete:
        names += [n for n in t.params if n not in names]
    axes = [_axis(n, complete) for n in names]
    objective = sweep.metrics[0] if sweep.metrics else "value"
    axes.append({"name": objective, "type": "value", "scale": True})
    rows: list[dict[str, Any]] = []
    objectives: list[float] = []
    for t in complete:
        row: list[Any] = []
        for axis, name in zip(axes, names, strict=False):
            p = t.params.get(name)
            if p is None:
                row.append(None)
            elif axis["type"] == "category":
                row.append(p.display)
            else:
                row.append(p.internal if math.isfinite(p.internal) else None)
        assert t.values is not None
        value = t.values[0]
        row.append(value if math.isfinite(value) else None)
        if math.isfinite(value):
            objectives.append(value)
        rows.append({"value": row, "trial": t.number})
    return {
        "axes": axes,
        "rows": rows,
        "objective": objective,
        "maximize": sweep.directions[0] == "maximize",
        "range": [min(objectives), max(objectives)] if objectives else None,
    }


def curve_json(curve: ExpectedBestCurve, label: str) -> dict[str, Any]:
    """An expected-best curve as the budget chart reads it."""
    return {
        "label": label,
        "budgets": list(curve.budgets),
        "seconds": None if curve.seconds is None else list(curve.seconds),
        "estimate": list(curve.estimate),
        "low": list(curve.low),
        "high": list(curve.high),
    }


def routes(ui: WebUI) -> list[BaseRoute]:
    """The sweeps pages' routes."""

    def sweeps_page(request: Request) -> Response:
        client = client_for(request)
        rows = []
        for sweep in client.sweeps.list():
            summary = client.sweeps.summary(sweep.id, top=1, importances=False, curve=False)
            best = summary.best[0].value if summary.best else None
            n = sum(summary.states.values())
            rows.append({"sweep": sweep, "counts": summary.states, "n": n, "best": best})
        return ui.render(request, "sweeps.html", nav="sweeps", rows=rows)

    def sweep_page(request: Request) -> Response:
        client = client_for(request)
        sweep = find_sweep(client, request.path_params["sweep"])
        trials = client.sweeps.trials(sweep.id)
        summary = client.sweeps.summary(sweep.id, top=1, importances=False)
        curve = summary.curve
        names: list[str] = []
        for t in trials:
            names += [n for n in t.params if n not in names]
        charts = {
            "parallel": parallel_data(sweep, trials),
            "curves": [] if curve is None else [curve_json(curve, sweep.name or f"#{sweep.id}")],
            "objective": summary.metric,
            "unit": "trials",
        }
        return ui.render(
            request,
            "sweep.html",
            nav="sweeps",
            sweep=sweep,
            trials=list(reversed(trials))[:MAX_TABLE_TRIALS],
            n_trials=len(trials),
            param_names=names,
            best=summary.best[0] if summary.best else None,
            curve=curve,
            seconds_of=trial_seconds,
            charts=script_json(charts),
            others=[s for s in client.sweeps.list() if s.id != sweep.id],
        )

    def compare_page(request: Request) -> Response:
        client = client_for(request)
        q = request.query_params
        sweeps = client.sweeps.list()
        base_ref, cand_ref = q.get("baseline", ""), q.get("candidate", "")
        unit = q.get("unit", "trials")
        if unit not in ("trials", "seconds"):
            raise InvalidArgumentError("unit must be 'trials' or 'seconds'")
        context: dict[str, Any] = {
            "nav": "sweeps",
            "sweeps": sweeps,
            "baseline": base_ref,
            "candidate": cand_ref,
            "unit": unit,
            "budget": q.get("budget", ""),
            "result": None,
            "charts": None,
        }
        if base_ref and cand_ref:
            a, b = find_sweep(client, base_ref), find_sweep(client, cand_ref)
            compared = client.compare_sweeps(
                a.id, b.id, budget=float_param(request, "budget"), unit=unit
            )
            result = compared.budgets
            context["result"] = result
            context["compared"] = compared
            context["a"], context["b"] = a, b
            context["charts"] = script_json(
                {
                    "curves": [
                        curve_json(result.baseline, a.name or f"#{a.id}"),
                        curve_json(result.candidate, b.name or f"#{b.id}"),
                    ],
                    "objective": compared.metric,
                    "unit": unit,
                    "budget": result.budget,
                    "crossings": list(
                        result.crossings_seconds or []
                        if unit == "seconds"
                        else result.crossings_trials
                    ),
                }
            )
        return ui.render(request, "sweeps_compare.html", **context)

    return [
        Route("/sweeps", sweeps_page, name="sweeps"),
        Route("/sweeps/compare", compare_page, name="sweeps_compare"),
        Route("/sweeps/{sweep}", sweep_page, name="sweep"),
    ]
