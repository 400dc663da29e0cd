"""``/api/v1`` writes of the review queue and the labelled datasets: what the HTTP store of
``LABLINE_URI=http://...`` asks a server to do for a model server (queue answers), a reviewer
(claim, decide, undo, edit, import outside labels) and a researcher (store a dataset version).

The reviewer is always the token's name: claims are made and checked on the server, in its
database, so two clients never hold the same item (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a write lock on SQLite) whatever the network does. Claims and decisions are not
repeated after a failure that may have reached the server. The review page (``/review``) keeps
its own small API: it answers with rendered views and plain error messages for its script.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from .. import Client, ReviewItemDraft
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import IdPath, LabelledDatasetOut, ReviewDecisionOut, ReviewItemOut
from ._schemas_review import (
    ClaimedOut,
    ClaimIn,
    ClaimNextIn,
    DecisionEditIn,
    DecisionIn,
    EnqueueIn,
    IdsOut,
    ImportIn,
    LabelledVersionIn,
    LabelledVersionOut,
    ReviewsNeededIn,
    ReviewsNeededOut,
    UndoIn,
)

__all__ = ["router"]

router = APIRouter(tags=["review and labelled datasets"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
ENQUEUE, LABEL = requires(Permission.ENQUEUE), requires(Permission.LABEL)
WRITE = requires(Permission.WRITE_RUNS)


def _item(item: object) -> ReviewItemOut:
    return ReviewItemOut.model_validate(to_jsonable(item))


def _decision(decision: object) -> ReviewDecisionOut:
    return ReviewDecisionOut.model_validate(to_jsonable(decision))


# -- queueing ----------------------------------------------------------------------------------
@router.post("/review/items", dependencies=[ENQUEUE], status_code=201, summary="Queue answers")
def enqueue_review_items(client: ClientDep, body: EnqueueIn) -> IdsOut:
    """Queue answers for review in one transaction (all or nothing): deferred answers and
    audit samples of a model server. A draft that is not acceptable is a 400 naming
    ``items[i].field``."""
    drafts: list[Any] = [ReviewItemDraft(**d.model_dump()) for d in body.items]
    return IdsOut(ids=client.enqueue_review_items(drafts, reviews_needed=body.reviews_needed))


@router.post("/review/reviews-needed", dependencies=[ENQUEUE], summary="Set reviews per item")
def set_reviews_needed(client: ClientDep, body: ReviewsNeededIn) -> ReviewsNeededOut:
    """Set how many reviewers must label the given items (an item with enough reviews
    becomes done)."""
    return ReviewsNeededOut(changed=client.set_reviews_needed(body.item_ids, body.reviews_needed))


# -- claims ------------------------------------------------------------------------------------
@router.post("/review/claims", dependencies=[LABEL], summary="Claim the next item")
def claim_next_review_item(client: ClientDep, body: ClaimNextIn) -> ClaimedOut:
    """Claim the next item for the token's reviewer with a lease (``null`` when nothing is
    left for them). Asking again while holding a claim returns the same item, its lease
    renewed; no other reviewer gets it until the lease lapses."""
    item = client.next_review_item(
        order=body.order, lease_seconds=body.lease_seconds, model=body.model, reason=body.reason
    )
    return ClaimedOut(item=None if item is None else _item(item))


@router.post("/review/items/{item_id:int}/claim", dependencies=[LABEL], summary="Claim an item")
def claim_review_item(client: ClientDep, item_id: IdPath, body: ClaimIn) -> ReviewItemOut:
    """Claim one given item (409 while another reviewer holds it, when it is done or when
    the reviewer already decided it)."""
    return _item(client.claim_review_item(item_id, lease_seconds=body.lease_seconds))


@router.delete(
    "/review/items/{item_id:int}/claim",
    dependencies=[LABEL],
    status_code=204,
    summary="Give a claim back",
)
def release_review_claim(client: ClientDep, item_id: IdPath) -> Response:
    """Give the token's claim on an item back to the queue (nothing happens when the
    reviewer holds none)."""
    client.release_review_item(item_id)
    return Response(status_code=204)


# -- decisions ---------------------------------------------------------------------------------
@router.post(
    "/review/items/{item_id:int}/decisions",
    dependencies=[LABEL],
    status_code=201,
    summary="Decide a claimed item",
)
def decide_review_item(client: ClientDep, item_id: IdPath, body: DecisionIn) -> ReviewDecisionOut:
    """Label (one of the model's classes), reject or skip an item the token's reviewer holds
    (409 otherwise, or when they already decided it)."""
    return _decision(client.decide_review_item(item_id, body.kind, body.label, meta=body.meta))


@router.post(
    "/review/decisions/{decision_id:int}/undo", dependencies=[LABEL], summary="Undo a decision"
)
def undo_review_decision(client: ClientDep, decision_id: IdPath, body: UndoIn) -> ReviewDecisionOut:
    """Undo one of the reviewer's latest decisions: the item returns to the queue, claimed
    by them when nobody else holds it."""
    return _decision(client.undo_review_decision(decision_id, lease_seconds=body.lease_seconds))


@router.patch(
    "/review/decisions/{decision_id:int}", dependencies=[LABEL], summary="Edit a decision"
)
def edit_review_decision(
    client: ClientDep, decision_id: IdPath, body: DecisionEditIn
) -> ReviewDecisionOut:
    """Change one of the reviewer's latest label or reject decisions to another label or a
    reject (the earlier one is kept in ``meta.edits``)."""
    if body.kind == "reject":
        return _decision(client.edit_review_decision(decision_id, reject=True))
    return _decision(client.edit_review_decision(decision_id, body.label))


@router.post("/review/imports", dependencies=[LABEL], summary="Import outside decisions")
def import_review_decisions(client: ClientDep, body: ImportIn) -> IdsOut:
    """Record decisions made outside labline (Label Studio annotators) in one transaction,
    each marked ``imported_by`` the token's name; a decision equal to one already counting
    is not recorded again."""
    rows = [(d.item_id, d.reviewer, d.kind, d.label, d.source, d.meta) for d in body.decisions]
    return IdsOut(ids=client.import_review_decisions(rows))


# -- labelled datasets -------------------------------------------------------------------------
@router.post(
    "/datasets/{name}/versions", dependencies=[WRITE], summary="Store a labelled dataset version"
)
def add_labelled_dataset(
    client: ClientDep, name: str, body: LabelledVersionIn
) -> LabelledVersionOut:
    """Store a version of reviewed items with their labels (``created`` false, and the
    latest version returned, when its fingerprint equals the latest's), created by the
    token's name."""
    dataset, created = client.add_labelled_dataset_record(
        name,
        body.fingerprint,
        [(e.item_id, e.label, tuple(e.decision_ids)) for e in body.examples],
        query=body.query,
        meta=body.meta,
    )
    return LabelledVersionOut(
        dataset=LabelledDatasetOut.model_validate(to_jsonable(dataset)), created=created
    )
