"""``/api/v1/review`` and ``/api/v1/datasets``: reading the review queue (items, decisions,
counts, statistics) and the labelled datasets built from it. Its writes (queueing, claims,
decisions) are in :mod:`._api_review_queue`; people label on the review page (``/review``)."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field

from .. import Client
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import (
    IdPath,
    LabelledDatasetOut,
    LabelledExampleOut,
    ReviewCountsOut,
    ReviewDecisionOut,
    ReviewExportOut,
    ReviewItemOut,
    ReviewStatsOut,
    VersionPath,
)
from ._schemas_review import LabelledRowOut

__all__ = ["router"]

router = APIRouter(tags=["review and labelled datasets"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ = requires(Permission.READ)
ModelName = Annotated[str | None, Query(max_length=250)]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
ItemIds = Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None, Query(max_length=1000)]


def _item(item: object) -> ReviewItemOut:
    return ReviewItemOut.model_validate(to_jsonable(item))


def _decision(decision: object) -> ReviewDecisionOut:
    return ReviewDecisionOut.model_validate(to_jsonable(decision))


@router.get("/review/items", dependencies=[READ], summary="List review items")
def list_review_items(
    client: ClientDep,
    status: Annotated[Literal["open", "claimed", "done", "pending"] | None, Query()] = None,
    reason: Annotated[Literal["deferred", "audit"] | None, Query()] = None,
    model: ModelName = None,
    order: Annotated[Literal["time", "uncertainty"], Query()] = "time",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    after_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    item_id: ItemIds = None,
) -> list[ReviewItemOut]:
    """Review items, oldest first (or most uncertain first), a page of ``limit`` at a time
    (``after_id``: the last id of the previous page, with ``order=time``); ``item_id``
    (repeated, at most 1,000) keeps only those items."""
    items = client.list_review_items(
        status=status,
        reason=reason,
        model=model,
        order=order,
        limit=limit,
        after_id=after_id,
        item_ids=item_id,
    )
    return [_item(i) for i in items]


@router.get("/review/items/{item_id:int}", dependencies=[READ], summary="Get a review item")
def get_review_item(client: ClientDep, item_id: IdPath) -> ReviewItemOut:
    """One item: its inputs, the model's guess and confidence, and its state."""
    return _item(client.get_review_item(item_id))


@router.get(
    "/review/items/{item_id:int}/decisions", dependencies=[READ], summary="Decisions on an item"
)
def item_decisions(
    client: ClientDep, item_id: IdPath, include_undone: bool = False
) -> list[ReviewDecisionOut]:
    """The label and reject decisions on one item, oldest first."""
    client.get_review_item(item_id)  # an unknown item is a 404, not an empty list
    return [_decision(d) for d in client.review_decisions([item_id], include_undone=include_undone)]


@router.get("/review/decisions", dependencies=[READ], summary="List review decisions")
def list_review_decisions(
    client: ClientDep,
    item_id: ItemIds = None,
    include_undone: bool = False,
    include_skips: bool = False,
) -> list[ReviewDecisionOut]:
    """Decisions, oldest first: only those that count (labels and rejects not undone) unless
    asked for undone ones and skips; ``item_id`` (repeated, at most 1,000) keeps only the
    decisions on those items."""
    decisions = client.review_decisions(
        item_id, include_undone=include_undone, include_skips=include_skips
    )
    return [_decision(d) for d in decisions]


@router.get("/review/decisions/mine", dependencies=[READ], summary="The caller's decisions")
def my_review_decisions(
    client: ClientDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 10
) -> list[ReviewDecisionOut]:
    """The token's reviewer's latest decisions that are not undone, newest first (the latest
    10 can be undone or edited)."""
    return [_decision(d) for d in client.recent_review_decisions(limit)]


@router.get("/review/counts", dependencies=[READ], summary="Review queue counts")
def review_counts(client: ClientDep, model: ModelName = None) -> ReviewCountsOut:
    """``total``, by state (``open``, ``claimed``, ``done``) and by reason (``deferred``,
    ``audit``); cheap enough to poll."""
    return ReviewCountsOut.model_validate(client.review_counts(model=model))


@router.get("/review/stats", dependencies=[READ], summary="Review statistics")
def review_stats(client: ClientDep, model: ModelName = None) -> ReviewStatsOut:
    """How the reviews judge the model (audit accuracy with a Wilson interval), decisions per
    reviewer and agreement (Cohen's or Fleiss' kappa)."""
    return ReviewStatsOut.model_validate(to_jsonable(client.review_stats(model=model)))


@router.get("/review/export", dependencies=[READ], summary="Export review items")
def export_review_items(
    client: ClientDep,
    format: Annotated[Literal["label-studio", "jsonl"], Query()] = "label-studio",
    status: Annotated[Literal["open", "claimed", "done", "pending", "all"], Query()] = "pending",
    model: ModelName = None,
) -> ReviewExportOut:
    """Items in id order as Label Studio tasks (input, ``labline_id``, the guess as a
    prediction scored by its confidence) or as whole records with their decisions (``jsonl``);
    ``status=all`` for every item."""
    items = client.export_review_items(
        format=format, status=None if status == "all" else status, model=model
    )
    return ReviewExportOut(format=format, items=list(items))


@router.get("/datasets", dependencies=[READ], summary="List labelled datasets")
def list_labelled_datasets(
    client: ClientDep, name: Annotated[str | None, Query(max_length=250)] = None
) -> list[LabelledDatasetOut]:
    """Every labelled dataset version (of ``name``, or all), by name then version."""
    return [
        LabelledDatasetOut.model_validate(to_jsonable(d))
        for d in client.list_labelled_datasets(name)
    ]


@router.get("/datasets/{name}", dependencies=[READ], summary="Get a labelled dataset")
def get_labelled_dataset(
    client: ClientDep, name: str, version: VersionQuery = None
) -> LabelledDatasetOut:
    """One version (the latest unless ``version`` is given): fingerprint, size, the query
    that built it."""
    return LabelledDatasetOut.model_validate(
        to_jsonable(client.get_labelled_dataset(name, version))
    )


@router.get(
    "/datasets/{name}/table",
    dependencies=[READ],
    summary="Download a labelled dataset (Parquet)",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def labelled_dataset_table(client: ClientDep, name: str, version: VersionQuery = None) -> Response:
    """A version (the latest by default) as a Parquet table: ``labline_id``, the feature
    columns and ``label``; its content fingerprint is the version's ``fingerprint``."""
    import pyarrow.parquet as pq

    table = client.labelled_dataset_table(name, version)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    ds = client.get_labelled_dataset(name, version)
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.apache.parquet",
        headers={"x-labline-fingerprint": ds.fingerprint},
    )


@router.get(
    "/datasets/{name}/versions/{version:int}/rows",
    dependencies=[READ],
    summary="Rows of a labelled dataset",
)
def labelled_dataset_rows(
    client: ClientDep, name: str, version: VersionPath
) -> list[LabelledRowOut]:
    """The examples of one version as stored: the review item, its label and the decisions
    behind it, by item id (``/examples`` adds each item's inputs and lineage)."""
    return [
        LabelledRowOut(item_id=item_id, label=label, decision_ids=list(decision_ids))
        for item_id, label, decision_ids in client.labelled_dataset_rows(name, version)
    ]


@router.get(
    "/datasets/{name}/examples", dependencies=[READ], summary="Examples of a labelled dataset"
)
def labelled_examples(
    client: ClientDep, name: str, version: VersionQuery = None
) -> list[LabelledExampleOut]:
    """The examples of a version (the latest by default) with their lineage: the decisions
    and reviewers behind each label, the model's guess, version and calibration."""
    return [
        LabelledExampleOut.model_validate(to_jsonable(e))
        for e in client.labelled_examples(name, version)
    ]
