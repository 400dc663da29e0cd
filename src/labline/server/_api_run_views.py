"""``/api/v1/runs/...`` views over many runs or one series: the runs a selector picks, runs
grouped by a param with confidence intervals, a metric series downsampled for a chart and the
seed band of a group. Listed before ``_api_runs`` so its fixed paths win over ``/runs/{run_id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from .. import Client
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import RunGroupOut, RunOut, SeedBandOut, SeriesEnvelopeOut

__all__ = ["router"]

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ = requires(Permission.READ)
MetricKey = Annotated[str, Query(min_length=1, max_length=250)]
Step = Annotated[float | None, Query(allow_inf_nan=False)]


@router.get("/select", dependencies=[READ], summary="Runs a selector picks")
def select_runs(
    client: ClientDep, selector: Annotated[str, Query(min_length=1, max_length=1000)]
) -> list[RunOut]:
    """The finished runs a selector picks (``digits:model=logreg``, ``digits:tag.stage=final``,
    ``runs:ID,ID``), oldest first: the groups ``/compare`` and hypotheses name."""
    return [RunOut.model_validate(to_jsonable(r)) for r in client.select_runs(selector)]


@router.get("/groups", dependencies=[READ], summary="Runs grouped by a param")
def group_runs(
    client: ClientDep,
    by: Annotated[str, Query(min_length=1, max_length=250)],
    experiment: Annotated[str | None, Query(max_length=250)] = None,
    metrics: Annotated[list[str] | None, Query(max_length=50)] = None,
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    confidence: Annotated[float, Query(gt=0, lt=1)] = 0.95,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> list[RunGroupOut]:
    """Runs matching a search grouped by the param ``by`` (the seeds of each configuration),
    each metric's mean over the group with its Student-t interval."""
    groups = client.group_runs(
        experiment,
        by=by,
        metrics=metrics or (),
        filter=filter,
        confidence=confidence,
        limit=limit,
    )
    return [RunGroupOut.model_validate(to_jsonable(g)) for g in groups]


@router.get("/seed-band", dependencies=[READ], summary="Seed band of a metric")
def seed_band(
    client: ClientDep,
    run_ids: Annotated[list[str], Query(min_length=1, max_length=1000)],
    key: MetricKey,
    buckets: Annotated[int, Query(ge=1, le=10_000)] = 500,
    confidence: Annotated[float, Query(gt=0, lt=1)] = 0.95,
    step_min: Step = None,
    step_max: Step = None,
) -> SeedBandOut:
    """The mean of metric ``key`` across the runs (seeds of one configuration) per step
    bucket, with its confidence band."""
    band = client.seed_band(
        run_ids,
        key,
        buckets=buckets,
        confidence=confidence,
        step_min=step_min,
        step_max=step_max,
    )
    return SeedBandOut.model_validate(to_jsonable(band))


@router.get("/{run_id}/envelope", dependencies=[READ], summary="A metric series for a chart")
def metric_envelope(
    client: ClientDep,
    run_id: str,
    key: MetricKey,
    buckets: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    step_min: Step = None,
    step_max: Step = None,
) -> SeriesEnvelopeOut:
    """Metric ``key`` downsampled to ``buckets`` step spans, the lowest and highest value of
    each (a spike is never hidden); every point when the window holds few."""
    data: dict[str, Any] = to_jsonable(
        client.metric_envelope(run_id, key, buckets=buckets, step_min=step_min, step_max=step_max)
    )
    return SeriesEnvelopeOut.model_validate(data)
