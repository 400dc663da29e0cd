"""Store contract of the review queue (its records live in :mod:`labline.core._review`).

Contract (every backend, checked by ``tests/review/test_review_store.py`` on SQLite,
PostgreSQL and a labline server over HTTP):

* **Nothing queued is lost.** ``enqueue_review_items`` writes a whole batch in one transaction
  (all or nothing) and returns the new ids in the order given.
* **Claims are exclusive.** ``claim_next_review_item`` hands an open item to one reviewer with
  a lease; while the lease is live no other reviewer gets it, also across processes (PostgreSQL:
  ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite: the write transaction starts with ``BEGIN
  IMMEDIATE``; over HTTP the server claims in its own database). A reviewer who asks again while holding a live claim gets the same item back
  (its lease renewed). An expired lease returns the item to the queue. A reviewer never gets an
  item they already labelled or rejected; items they skipped come after every other item.
* **A review counts once.** Labelling or rejecting needs the reviewer's claim on the item (a
  lapsed lease still counts if nobody else claimed the item since); otherwise
  :class:`~labline.ConflictError`. Each reviewer decides an item at most once; the item is done
  when ``reviews_needed`` reviewers labelled or rejected it.
* **History is kept.** Decisions are never deleted: an undo marks the decision undone and
  returns the item to the queue (claimed again by the reviewer who undid it, when free); an edit
  changes the label and ``updated_at``. Only a reviewer's latest ``RECENT_DECISIONS`` decisions
  can be undone or edited.
* Methods are thread-safe and process-safe; unknown ids raise
  :class:`~labline.NotFoundError`; invalid values :class:`~labline.InvalidArgumentError`;
  database failures :class:`~labline.StorageError`. A failed call changes nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from ..core._review import (
    DecisionKind,
    ReviewDecision,
    ReviewItem,
    ReviewItemDraft,
    ReviewOrder,
    ReviewReason,
)

__all__ = ["ImportedDecision", "ReviewCounts", "ReviewStoreBase"]

ImportedDecision = tuple[int, str, DecisionKind, Any, str, Mapping[str, Any]]
"""``(item_id, reviewer, kind, label, source, meta)`` of a decision made outside labline."""

ReviewCounts = Mapping[str, int]
"""Item counts by state (``open``, ``claimed``, ``done``) and by reason (``deferred``,
``audit``), plus ``total``."""


class ReviewStoreBase(abc.ABC):
    """Abstract review-queue methods of :class:`~labline.store.MetadataStore`."""

    @abc.abstractmethod
    def enqueue_review_items(
        self, drafts: Sequence[ReviewItemDraft], *, reviews_needed: int = 1
    ) -> list[int]:
        """Queue checked drafts (see :func:`labline.core._review.check_draft`) in one
        transaction.

        Returns:
            The new item ids, in the order of ``drafts``.
        """

    @abc.abstractmethod
    def get_review_item(self, item_id: int) -> ReviewItem:
        """One item. Raises NotFoundError."""

    @abc.abstractmethod
    def list_review_items(
        self,
        *,
        status: str | None = None,
        reason: ReviewReason | None = None,
        model_name: str | None = None,
        order: ReviewOrder = "time",
        limit: int = 100,
        after_id: int | None = None,
        item_ids: Sequence[int] | None = None,
    ) -> list[ReviewItem]:
        """Items matching every given filter: ``status`` one of ``open``/``claimed``/``done``/
        ``pending`` (open or claimed); ``after_id`` pages by id (with ``order="time"`` only);
        ``limit`` at most 10,000."""

    @abc.abstractmethod
    def claim_next_review_item(
        self,
        reviewer: str,
        *,
        order: ReviewOrder,
        lease_seconds: float,
        model_name: str | None = None,
        reason: ReviewReason | None = None,
    ) -> ReviewItem | None:
        """Claim the next item for ``reviewer`` (see the module docstring), or ``None`` when
        nothing is left for them."""

    @abc.abstractmethod
    def claim_review_item(self, item_id: int, reviewer: str, *, lease_seconds: float) -> ReviewItem:
        """Claim one given item for ``reviewer`` (renewing the lease if they hold it).

        Raises:
            NotFoundError: no such item.
            ConflictError: another reviewer holds a live claim, the item is done, or the
                reviewer already decided it.
        """

    @abc.abstractmethod
    def release_review_claim(self, item_id: int, reviewer: str) -> None:
        """Give up ``reviewer``'s claim on an item (a no-op when they hold none)."""

    @abc.abstractmethod
    def decide_review_item(
        self,
        item_id: int,
        reviewer: str,
        kind: DecisionKind,
        label: Any,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> ReviewDecision:
        """Record a checked decision (``label``/``reject``/``skip``) on a claimed item.

        Raises:
            NotFoundError: no such item.
            ConflictError: the reviewer does not hold the item (another reviewer does, or it
                was never claimed), or already decided it, or it is done.
        """

    @abc.abstractmethod
    def undo_review_decision(
        self, decision_id: int, reviewer: str, *, lease_seconds: float = 300.0
    ) -> ReviewDecision:
        """Undo one of ``reviewer``'s latest decisions; the item returns to the queue, claimed
        by ``reviewer`` for ``lease_seconds`` when nobody else holds it.

        Raises:
            NotFoundError: no such decision of this reviewer.
            ConflictError: it is already undone or older than the latest ``RECENT_DECISIONS``.
        """

    @abc.abstractmethod
    def edit_review_decision(
        self, decision_id: int, reviewer: str, kind: DecisionKind, label: Any
    ) -> ReviewDecision:
        """Change one of ``reviewer``'s latest label/reject decisions to another label/reject.

        Raises:
            NotFoundError: no such decision of this reviewer.
            ConflictError: it is undone, a skip, or older than the latest ``RECENT_DECISIONS``.
            InvalidArgumentError: ``kind`` is ``skip``.
        """

    @abc.abstractmethod
    def recent_review_decisions(self, reviewer: str, limit: int) -> list[ReviewDecision]:
        """``reviewer``'s latest decisions that are not undone, newest first."""

    @abc.abstractmethod
    def list_review_decisions(
        self,
        *,
        item_ids: Sequence[int] | None = None,
        include_undone: bool = False,
        include_skips: bool = False,
    ) -> list[ReviewDecision]:
        """Decisions (by default only those that count), oldest first."""

    @abc.abstractmethod
    def import_review_decisions(self, decisions: Sequence[ImportedDecision]) -> list[int]:
        """Record decisions made outside labline (Label Studio) in one transaction, without
        claims. A reviewer's decision on an item that equals one already counting is not
        recorded again (import is idempotent); an item that already has its reviews takes the
        decision as an extra review (nothing an annotator did is dropped).

        Returns:
            The ids of the decisions recorded (repeats left out).

        Raises:
            NotFoundError: an unknown item id (nothing is recorded).
            ConflictError: a reviewer already decided an item differently (nothing is
                recorded).
        """

    @abc.abstractmethod
    def set_reviews_needed(self, item_ids: Sequence[int], reviews_needed: int) -> int:
        """Set how many reviews the given items need. Returns how many items changed."""

    @abc.abstractmethod
    def review_counts(self, *, model_name: str | None = None) -> ReviewCounts:
        """Item counts (see :data:`ReviewCounts`)."""
