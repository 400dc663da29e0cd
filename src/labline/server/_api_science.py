"""``/api/v1/compare`` and ``/api/v1/hypotheses``: comparisons (reads: they never evaluate a
hypothesis) and pre-registered hypotheses (evaluating one is its own, explicit action)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from .. import Client, Hypothesis, InvalidArgumentError
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import (
    CompareIn,
    ComparisonOut,
    HypothesisIn,
    HypothesisOut,
    HypothesisProgressOut,
    HypothesisReviseIn,
    IdPath,
)

__all__ = ["router"]

router = APIRouter(tags=["compare and hypotheses"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)
_AGGREGATES = ("last", "min", "max")


def served_metric(metric: str) -> str:
    """A metric reference the server will compute: built in, logged (``key[:min|max|last]``)
    or an installed entry point, but never ``package.module:function``, which would make the
    server import and run code a caller names.

    Raises:
        InvalidArgumentError: an import path (the message says what to use instead).
    """
    _, colon, tail = metric.strip().rpartition(":")
    if colon and tail.strip().lower() not in _AGGREGATES:
        error = InvalidArgumentError(
            "metric: the server does not import 'package.module:function' metrics named in a "
            "request; use a built-in metric, a logged one (key, key:min, key:max) or one an "
            "installed package registers as a 'labline.metrics' entry point"
        )
        error.field = "metric"  # type: ignore[attr-defined]
        raise error
    return metric


def _hypothesis(h: Hypothesis) -> HypothesisOut:
    return HypothesisOut.model_validate(to_jsonable(h))


@router.post("/compare", dependencies=[READ], summary="Compare runs")
def compare(client: ClientDep, body: CompareIn) -> ComparisonOut:
    """Paired, seed-aware comparison of candidate run groups against a baseline group. Only
    reads: a hypothesis these runs answer is evaluated by ``POST /hypotheses/{id}/evaluate``."""
    report = client.compare(
        body.baseline,
        body.candidate,
        served_metric(body.metric),
        dataset=body.dataset,
        higher_is_better=body.higher_is_better,
        alpha=body.alpha,
        margin=body.margin,
        min_effect=body.min_effect,
        n_resamples=body.n_resamples,
        seed=body.seed,
        evaluate_hypotheses=False,
    )
    data: dict[str, Any] = to_jsonable(report.to_dict())
    return ComparisonOut(
        metric=report.metric, dataset=report.dataset, baseline=report.baseline, report=data
    )


@router.get("/hypotheses", dependencies=[READ], summary="List hypotheses")
def list_hypotheses(client: ClientDep) -> list[HypothesisOut]:
    """Every hypothesis as stored, oldest first (reading never evaluates)."""
    return [_hypothesis(h) for h in client.list_hypotheses()]


@router.post("/hypotheses", dependencies=[WRITE], status_code=201, summary="Register a hypothesis")
def add_hypothesis(client: ClientDep, body: HypothesisIn) -> HypothesisOut:
    """Register a hypothesis before its runs exist (recorded with the caller's name)."""
    return _hypothesis(
        client.add_hypothesis(
            body.statement,
            baseline=body.baseline,
            candidate=body.candidate,
            metric=served_metric(body.metric),
            min_effect=body.min_effect,
            alpha=body.alpha,
            dataset=body.dataset,
            seeds=body.seeds,
            supersedes=body.supersedes,
        )
    )


@router.post("/hypotheses/evaluate", dependencies=[WRITE], summary="Evaluate every hypothesis")
def evaluate_hypotheses(client: ClientDep) -> list[HypothesisOut]:
    """Evaluate every waiting hypothesis whose runs have arrived; return all."""
    for h in client.list_hypotheses():
        served_metric(h.metric)
    return [_hypothesis(h) for h in client.evaluate_hypotheses()]


@router.get("/hypotheses/{hypothesis_id:int}", dependencies=[READ], summary="Get a hypothesis")
def get_hypothesis(client: ClientDep, hypothesis_id: IdPath) -> HypothesisOut:
    """One hypothesis as stored."""
    return _hypothesis(client.get_hypothesis(hypothesis_id))


@router.get(
    "/hypotheses/{hypothesis_id:int}/progress", dependencies=[READ], summary="Hypothesis progress"
)
def hypothesis_progress(client: ClientDep, hypothesis_id: IdPath) -> HypothesisProgressOut:
    """How far a waiting hypothesis is from evaluation (runs each selector matches now)."""
    progress = client.hypothesis_progress(client.get_hypothesis(hypothesis_id))
    return HypothesisProgressOut.model_validate(to_jsonable(progress))


@router.post(
    "/hypotheses/{hypothesis_id:int}/revise", dependencies=[WRITE], summary="Revise a hypothesis"
)
def revise_hypothesis(
    client: ClientDep, hypothesis_id: IdPath, body: HypothesisReviseIn
) -> HypothesisOut:
    """Register a changed copy that supersedes the hypothesis (the original stays)."""
    return _hypothesis(
        client.revise_hypothesis(
            hypothesis_id,
            statement=body.statement,
            metric=None if body.metric is None else served_metric(body.metric),
            min_effect=body.min_effect,
            alpha=body.alpha,
            seeds=body.seeds,
        )
    )


@router.post(
    "/hypotheses/{hypothesis_id:int}/evaluate",
    dependencies=[WRITE],
    summary="Evaluate a hypothesis",
)
def evaluate_hypothesis(client: ClientDep, hypothesis_id: IdPath) -> HypothesisOut:
    """Evaluate a waiting hypothesis if its runs have arrived (once; then it is frozen)."""
    served_metric(client.get_hypothesis(hypothesis_id).metric)
    return _hypothesis(client.evaluate_hypothesis(hypothesis_id))
