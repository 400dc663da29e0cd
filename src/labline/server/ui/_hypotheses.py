"""Hypotheses: status, registration time against result time, the revision chain, and an
explicit evaluation (for roles that may write; viewing never evaluates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ... import Hypothesis, InvalidArgumentError
from .._principal import Permission
from ._common import client_for

if TYPE_CHECKING:
    from ._app import WebUI


def revision_chains(hypotheses: list[Hypothesis]) -> dict[int, list[int]]:
    """For each hypothesis, the ids of its chain of revisions, oldest first."""
    by_id = {h.id: h for h in hypotheses}
    chains: dict[int, list[int]] = {}
    for h in hypotheses:
        chain = [h.id]
        seen = {h.id}
        current = h
        while current.supersedes is not None and current.supersedes in by_id:
            if current.supersedes in seen:  # a cycle cannot be stored, but never loop
                break
            seen.add(current.supersedes)
            current = by_id[current.supersedes]
            chain.append(current.id)
        chains[h.id] = chain[::-1]
    return chains


def routes(ui: WebUI) -> list[BaseRoute]:
    """The hypotheses page's routes."""

    def hypotheses_page(request: Request) -> Response:
        client = client_for(request)
        hypotheses = client.list_hypotheses()
        superseded = {h.supersedes for h in hypotheses if h.supersedes is not None}
        progress: dict[int, Any] = {}
        for h in hypotheses:
            if not h.status.evaluated and h.id not in superseded:
                try:
                    progress[h.id] = client.hypothesis_progress(h)
                except InvalidArgumentError as e:
                    progress[h.id] = e.message
        return ui.render(
            request,
            "hypotheses.html",
            nav="hypotheses",
            hypotheses=list(reversed(hypotheses)),
            chains=revision_chains(hypotheses),
            superseded=superseded,
            progress=progress,
            can_evaluate=request.state.principal.can(Permission.WRITE_RUNS),
        )

    def evaluate(request: Request) -> Response:
        client = client_for(request, Permission.WRITE_RUNS)
        raw = request.path_params["hypothesis_id"]
        if not raw.isdigit() or len(raw) > 12:
            raise InvalidArgumentError(f"hypothesis id must be a number, got {raw[:20]!r}")
        client.evaluate_hypothesis(int(raw))
        return RedirectResponse(ui.url(request, f"/hypotheses#h{raw}"), 303)

    return [
        Route("/hypotheses", hypotheses_page, name="hypotheses"),
        Route("/hypotheses/{hypothesis_id}/evaluate", evaluate, methods=["POST"]),
    ]
