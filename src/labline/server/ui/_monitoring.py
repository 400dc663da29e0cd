"""Monitoring: the ``labline monitor`` report as a page. A running model server (``labline
serve``) is asked for its live window's drift against the package's reference profile: per
feature (KS / chi-squared with Holm, PSI, Jensen–Shannon), predictions and confidence, and the
accuracy estimated without labels; the page also says whether the server serves what the
reference points at.

The UI's server makes the request to the URL given, so only roles that may promote (engineers
and admins, who run model servers) may ask; the URL must be http(s) (checked by
:meth:`labline.Client.monitor`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .._principal import Permission
from ._common import client_for

if TYPE_CHECKING:
    from ._app import WebUI

TIMEOUT_SECONDS = 10.0


def drift_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The drift table: every feature, then predictions and confidence when present."""
    rows = list(report.get("features") or [])
    rows += [r for r in (report.get("predictions"), report.get("confidence")) if r]
    return rows


def routes(ui: WebUI) -> list[BaseRoute]:
    """The monitoring page's route."""

    async def monitoring_page(request: Request) -> Response:
        client = client_for(request, Permission.PROMOTE)
        ref = request.query_params.get("ref", "").strip()
        server = request.query_params.get("server", "").strip()
        doc = None
        if ref and server:
            report = await run_in_threadpool(
                lambda: client.monitor(ref, server, timeout=TIMEOUT_SECONDS)
            )
            doc = report.to_json()
        models = await run_in_threadpool(client.list_models)
        return ui.render(
            request,
            "monitoring.html",
            nav="monitoring",
            ref=ref,
            server=server,
            doc=doc,
            models=models,
            rows=drift_rows(doc.get("report") or {}) if doc else [],
        )

    return [Route("/monitoring", monitoring_page, name="monitoring")]
