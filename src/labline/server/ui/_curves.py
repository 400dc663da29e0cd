"""Curves: one metric overlaid across selected runs (each a min/max envelope downsampled on
the server), or seed bands: the runs grouped by a param, each group drawn as the mean with its
95% band across its runs. A zoom refetches the window at full resolution."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ... import InvalidArgumentError, SeedBand
from ._common import client_for, float_param, int_param
from ._runs import MAX_SELECTION, split_list

if TYPE_CHECKING:
    from ._app import WebUI

MAX_GROUPS = 12


def _finite(values: Any) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def band_json(band: SeedBand) -> dict[str, Any]:
    """A :class:`SeedBand` as the charts read it."""
    return {
        "x": band.x.tolist(),
        "mean": _finite(band.mean),
        "low": _finite(band.low),
        "high": _finite(band.high),
        "n_runs": band.n_runs.tolist(),
        "total_runs": band.total_runs,
    }


def routes(ui: WebUI) -> list[BaseRoute]:
    """The curves page's routes."""

    def curves_page(request: Request) -> Response:
        client = client_for(request)
        q = request.query_params
        ids = split_list(q.get("runs"), MAX_SELECTION, "runs")
        runs = [client.get_run(r) for r in ids]
        keys = sorted({k for r in runs for k in r.metrics})
        params = sorted({k for r in runs for k in r.params})
        # by default the first metric logged as a curve (more than one step) by some run
        curves = [k for k in keys if any(r.metrics[k].count > 1 for r in runs if k in r.metrics)]
        metric = q.get("metric") or (curves or keys or [""])[0]
        if metric and keys and metric not in keys:
            raise InvalidArgumentError(f"metric: none of the selected runs logged {metric[:80]!r}")
        group = q.get("group", "").strip()
        groups: list[dict[str, Any]] = []
        if group:
            members: dict[str, list[str]] = {}
            for r in runs:
                members.setdefault(r.params.get(group, "(not set)"), []).append(r.id)
            if len(members) > MAX_GROUPS:
                raise InvalidArgumentError(
                    f"group: {group!r} takes {len(members)} values here; at most "
                    f"{MAX_GROUPS} bands can be drawn"
                )
            groups = [{"value": v, "runs": m} for v, m in members.items()]
        return ui.render(
            request,
            "curves.html",
            nav="curves",
            runs=runs,
            ids=ids,
            keys=keys,
            params=params,
            metric=metric,
            group=group,
            groups=groups,
            log=q.get("log") == "1",
        )

    def band_data(request: Request) -> Response:
        client = client_for(request)
        q = request.query_params
        ids = split_list(q.get("runs"), MAX_SELECTION, "runs")
        metric = q.get("metric", "")
        band = client.seed_band(
            ids,
            metric,
            buckets=int_param(request, "buckets", 500, 1, 4000),
            step_min=float_param(request, "min"),
            step_max=float_param(request, "max"),
        )
        return JSONResponse(band_json(band))

    return [
        Route("/curves", curves_page, name="curves"),
        Route("/ui-api/band", band_data, name="band_data"),
    ]
