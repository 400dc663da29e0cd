"""The review queue through Client, on SQLite, PostgreSQL and a labline server (over HTTP,
each reviewer with a token of their own): enqueue, claims with leases, decisions, undo/edit,
reviews per item, counts and bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import labline
from http_store_support import Actors
from labline import ReviewItemDraft

DIGEST = "sha256:" + "ab" * 32


def draft(
    i: int = 0, *, margin: float | None = 0.5, reason: str = "deferred", **kw: object
) -> ReviewItemDraft:
    base: dict[str, object] = dict(
        model_name="digits",
        model_version=1,
        model_digest=DIGEST,
        calibration_id=7,
        inputs=[float(i)] * 64,
        guess=i % 10,
        confidence=0.6,
        margin=margin,
        reason=reason,
        request_id=f"req-{i}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
    )
    base.update(kw)
    return ReviewItemDraft(**base)  # type: ignore[arg-type]


@pytest.fixture
def client(actors: Actors) -> labline.Client:
    return actors("ann")


def test_enqueue_returns_ids_in_order_and_items_read_back(client: labline.Client) -> None:
    ids = client.enqueue_review_items([draft(i) for i in range(5)])
    assert len(ids) == 5 and ids == sorted(ids)
    item = client.get_review_item(ids[2])
    assert item.inputs == [2.0] * 64 and item.guess == 2 and item.request_id == "req-2"
    assert item.model_digest == DIGEST and item.calibration_id == 7 and item.reason == "deferred"
    assert item.status == "open" and item.reviews_needed == 1 and item.reviews_done == 0
    assert item.created_at == datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert [i.id for i in client.list_review_items()] == ids
    assert client.enqueue_review_items([]) == []


def test_bad_drafts_are_refused_naming_the_field_and_nothing_is_queued(
    client: labline.Client,
) -> None:
    cases = {
        "items[1].confidence must be finite": draft(1, confidence=float("nan")),
        "items[1].reason": draft(1, reason="maybe"),
        "items[1].model_digest": draft(1, model_digest="md5:x"),
        "items[1].created_at must be a timezone-aware": draft(1, created_at=datetime(2026, 1, 1)),
        "items[1].guess": draft(1, guess=[1, 2]),
        "items[1].model_version": draft(1, model_version=0),
        "items[1].request_id": draft(1, request_id=""),
    }
    for message, bad in cases.items():
        with pytest.raises(
            labline.InvalidArgumentError, match=message.replace("[", r"\[").replace("]", r"\]")
        ):
            client.enqueue_review_items([draft(0), bad])
    with pytest.raises(labline.InvalidArgumentError, match=r"items\[0\] must be a ReviewItemDraft"):
        client.enqueue_review_items([{"model_name": "x"}])  # type: ignore[list-item]
    with pytest.raises(labline.InvalidArgumentError, match="reviews_needed"):
        client.enqueue_review_items([draft(0)], reviews_needed=0)
    assert client.list_review_items() == []


def test_inputs_are_stored_as_json_with_non_finite_as_null(client: labline.Client) -> None:
    import numpy as np

    (i,) = client.enqueue_review_items(
        [draft(0, inputs={"age": np.float64("nan"), "city": "Oslo", "n": np.int64(3)})]
    )
    assert client.get_review_item(i).inputs == {"age": None, "city": "Oslo", "n": 3}


def test_claims_are_exclusive_and_ordered_by_uncertainty(actors: Actors) -> None:
    ann, bob = actors("ann"), actors("bob")
    ids = ann.enqueue_review_items(
        [draft(0, margin=0.9), draft(1, margin=0.1), draft(2, margin=None, confidence=0.3)]
    )
    a = ann.next_review_item()
    assert a is not None and a.id == ids[1] and a.status == "claimed" and a.claimed_by == "ann"
    # asking again returns the same item (a reload), not a second one
    again = ann.next_review_item()
    assert again is not None and again.id == a.id
    b = bob.next_review_item()
    assert b is not None and b.id == ids[2]  # no margin: its confidence orders it
    c = bob.next_review_item()
    assert c is not None and c.id == ids[2]
    with pytest.raises(labline.ConflictError, match="claimed by another reviewer"):
        bob.label_review_item(a.id, 3)
    ann.label_review_item(a.id, 3)
    bob.label_review_item(b.id, 4)
    last = ann.next_review_item()
    assert last is not None and last.id == ids[0]
    ann.reject_review_item(last.id)
    assert ann.next_review_item() is None and bob.next_review_item() is None
    counts = ann.store.review_counts()
    assert counts["done"] == 3 and counts["open"] == 0 and counts["total"] == 3


def test_order_by_time(client: labline.Client) -> None:
    ids = client.enqueue_review_items([draft(2, margin=0.1), draft(1, margin=0.9)])
    got = client.next_review_item(order="time")
    assert got is not None and got.id == ids[1]  # created earlier


def test_expired_lease_returns_the_item(actors: Actors) -> None:
    ann, bob = actors("ann"), actors("bob")
    (i,) = ann.enqueue_review_items([draft(0)])
    assert ann.next_review_item(lease_seconds=0.2) is not None
    assert bob.next_review_item() is None
    time.sleep(0.4)
    assert ann.get_review_item(i).status == "open"
    got = bob.next_review_item()
    assert got is not None and got.id == i
    with pytest.raises(labline.ConflictError, match="claimed by another reviewer"):
        ann.label_review_item(i, 1)
    bob.label_review_item(i, 1)
    assert ann.get_review_item(i).status == "done"


def test_a_lapsed_lease_nobody_took_still_counts(client: labline.Client) -> None:
    (i,) = client.enqueue_review_items([draft(0)])
    client.next_review_item(lease_seconds=0.1)
    time.sleep(0.2)
    client.label_review_item(i, 0)
    assert client.get_review_item(i).status == "done"


def test_deciding_without_a_claim_or_twice_is_refused(client: labline.Client) -> None:
    (i,) = client.enqueue_review_items([draft(0)])
    with pytest.raises(labline.ConflictError, match="not claimed by 'ann'; claim it first"):
        client.label_review_item(i, 1)
    with pytest.raises(labline.NotFoundError, match="no review item 999"):
        client.label_review_item(999, 1)
    client.next_review_item()
    with pytest.raises(labline.InvalidArgumentError, match="label must be a string"):
        client.label_review_item(i, [1])
    client.label_review_item(i, 1)
    with pytest.raises(labline.ConflictError):
        client.label_review_item(i, 1)


def test_skip_puts_the_item_behind_the_others_for_that_reviewer(actors: Actors) -> None:
    ann, bob = actors("ann"), actors("bob")
    ids = ann.enqueue_review_items([draft(0, margin=0.1), draft(1, margin=0.2)])
    first = ann.next_review_item()
    assert first is not None and first.id == ids[0]
    ann.skip_review_item(first.id)
    nxt = ann.next_review_item()
    assert nxt is not None and nxt.id == ids[1]
    other = bob.next_review_item()  # bob did not skip it: it is first for him
    assert other is not None and other.id == ids[0]
    bob.release_review_item(other.id)
    ann.label_review_item(nxt.id, 1)
    back = ann.next_review_item()
    assert back is not None and back.id == ids[0]  # only the skipped one is left


def test_undo_and_edit_the_latest_ten(client: labline.Client, actors: Actors) -> None:
    ids = client.enqueue_review_items([draft(i, margin=i / 100) for i in range(12)])
    decisions = []
    for _ in range(12):
        item = client.next_review_item()
        assert item is not None
        decisions.append(client.label_review_item(item.id, item.guess))
    assert client.next_review_item() is None
    recent = client.recent_review_decisions()
    assert [d.id for d in recent] == [d.id for d in reversed(decisions)][:10]
    with pytest.raises(labline.ConflictError, match="older than your latest 10"):
        client.edit_review_decision(decisions[0].id, 5)
    edited = client.edit_review_decision(decisions[5].id, 9)
    assert edited.label == 9 and edited.updated_at >= edited.created_at
    assert edited.meta["edits"][0]["label"] == decisions[5].label
    rejected = client.edit_review_decision(decisions[6].id, reject=True)
    assert rejected.kind == "reject" and rejected.label is None
    undone = client.undo_review_decision()  # the latest
    assert undone.id == decisions[-1].id and undone.undone_at is not None
    back = client.next_review_item()
    assert back is not None and back.id == ids[-1] and back.reviews_done == 0
    with pytest.raises(labline.ConflictError, match="already undone"):
        client.undo_review_decision(decisions[-1].id)
    client.label_review_item(back.id, 1)
    assert client.get_review_item(back.id).status == "done"
    with pytest.raises(labline.InvalidArgumentError, match="either a label or reject"):
        client.edit_review_decision(decisions[5].id)
    with pytest.raises(labline.NotFoundError):
        actors("bob").undo_review_decision(decisions[5].id)


def test_undo_of_a_skip_gives_the_item_back(client: labline.Client) -> None:
    ids = client.enqueue_review_items([draft(0, margin=0.1), draft(1, margin=0.2)])
    first = client.next_review_item()
    assert first is not None
    client.skip_review_item(first.id)
    assert client.next_review_item().id == ids[1]  # type: ignore[union-attr]
    client.undo_review_decision()
    got = client.next_review_item()
    assert got is not None and got.id == ids[0]


def test_several_reviews_per_item(actors: Actors) -> None:
    ann, bob, cy = actors("ann"), actors("bob"), actors("cy")
    (i,) = ann.enqueue_review_items([draft(0)], reviews_needed=2)
    assert ann.next_review_item() is not None
    assert bob.next_review_item() is None  # one claim at a time per item
    ann.label_review_item(i, 0)
    assert ann.next_review_item() is None  # ann already labelled it
    got = bob.next_review_item()
    assert got is not None and got.reviews_done == 1 and got.status == "claimed"
    bob.label_review_item(i, 1)
    assert ann.get_review_item(i).status == "done" and cy.next_review_item() is None
    assert ann.set_reviews_needed([i], 3) == 1
    assert cy.next_review_item() is not None
    cy.label_review_item(i, 1)
    assert [(d.reviewer, d.label) for d in ann.review_decisions([i])] == [
        ("ann", 0),
        ("bob", 1),
        ("cy", 1),
    ]


def test_list_filters_and_bad_filters(client: labline.Client) -> None:
    ids = client.enqueue_review_items(
        [draft(0), draft(1, reason="audit"), draft(2, model_name="other")]
    )
    assert [i.id for i in client.list_review_items(reason="audit")] == [ids[1]]
    assert [i.id for i in client.list_review_items(model="other")] == [ids[2]]
    client.next_review_item(order="time")
    assert [i.id for i in client.list_review_items(status="claimed")] == [ids[0]]
    assert [i.id for i in client.list_review_items(status="open")] == ids[1:]
    assert [i.id for i in client.list_review_items(after_id=ids[0], limit=1)] == [ids[1]]
    for kw, msg in [
        ({"status": "nope"}, "status must be"),
        ({"reason": "nope"}, "reason must be"),
        ({"order": "nope"}, "order must be"),
        ({"limit": 0}, "limit must be"),
    ]:
        with pytest.raises(labline.InvalidArgumentError, match=msg):
            client.list_review_items(**kw)  # type: ignore[arg-type]
    with pytest.raises(labline.InvalidArgumentError, match="lease_seconds"):
        client.next_review_item(lease_seconds=-1)
