"""SQL implementation of the review queue (a mixin of :class:`SQLStore`).

Exclusive claims without table locks: on PostgreSQL the next item is picked with
``SELECT ... FOR UPDATE SKIP LOCKED`` (two reviewers' transactions pass each other by instead of
queueing on the same row) and updated in the same transaction; on SQLite every write
transaction begins with ``BEGIN IMMEDIATE``, so claims are serialised by the database's write
lock. Every state change of an item locks its row first (``FOR UPDATE`` on PostgreSQL).

The "next item" query walks an index in queue order (``done, uncertainty, id`` or ``done,
created_at, id``) and stops at the first item the reviewer may take, so its cost does not grow
with the length of the queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..._exceptions import ConflictError, InvalidArgumentError, NotFoundError
from ...core._review import (
    MAX_LIST_LIMIT,
    RECENT_DECISIONS,
    DecisionKind,
    ReviewDecision,
    ReviewItem,
    ReviewItemDraft,
    ReviewOrder,
    ReviewReason,
    check_item_status,
    check_list_limit,
)
from .._review_base import ImportedDecision, ReviewCounts, ReviewStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_review import ReviewDecisionRow, ReviewItemRow

_I = ReviewItemRow
_D = ReviewDecisionRow
_MAX_ID = 2**31 - 1


def _item(row: ReviewItemRow, now: datetime) -> ReviewItem:
    lease = None if row.lease_expires_at is None else as_utc(row.lease_expires_at)
    live = row.claimed_by is not None and lease is not None and lease > now
    status = "done" if row.done else ("claimed" if live else "open")
    return ReviewItem(
        id=row.id,
        model_name=row.model_name,
        model_version=row.model_version,
        model_digest=row.model_digest,
        calibration_id=row.calibration_id,
        inputs=row.inputs,
        guess=row.guess,
        confidence=row.confidence,
        margin=row.margin,
        reason=row.reason,  # type: ignore[arg-type]
        request_id=row.request_id,
        created_at=as_utc(row.created_at),
        enqueued_at=as_utc(row.enqueued_at),
        reviews_needed=row.reviews_needed,
        reviews_done=row.reviews_done,
        status=status,  # type: ignore[arg-type]
        claimed_by=row.claimed_by if live else None,
        lease_expires_at=lease if live else None,
    )


def _decision(row: ReviewDecisionRow) -> ReviewDecision:
    return ReviewDecision(
        id=row.id,
        item_id=row.item_id,
        reviewer=row.reviewer,
        kind=row.kind,  # type: ignore[arg-type]
        label=row.label,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        undone_at=None if row.undone_at is None else as_utc(row.undone_at),
        source=row.source,
        meta=dict(row.meta or {}),
    )


def _valid_id(item_id: object) -> bool:
    return isinstance(item_id, int) and not isinstance(item_id, bool) and 1 <= item_id <= _MAX_ID


def _status_filter(status: str | None, now: datetime) -> list[sa.ColumnElement[bool]]:
    free = sa.or_(_I.claimed_by.is_(None), _I.lease_expires_at <= now)
    if status is None:
        return []
    if status == "done":
        return [_I.done.is_(True)]
    if status == "pending":
        return [_I.done.is_(False)]
    if status == "open":
        return [_I.done.is_(False), free]
    if status == "claimed":
        return [_I.done.is_(False), sa.not_(free)]
    raise InvalidArgumentError("status must be 'open', 'claimed', 'done' or 'pending'")


def _counting(reviewer: str) -> sa.Exists:
    """The reviewer has a decision on the item that counts (a label or reject, not undone)."""
    return sa.exists().where(
        _D.item_id == _I.id, _D.reviewer == reviewer, _D.undone_at.is_(None), _D.kind != "skip"
    )


def _skipped(reviewer: str) -> sa.Exists:
    return sa.exists().where(
        _D.item_id == _I.id, _D.reviewer == reviewer, _D.undone_at.is_(None), _D.kind == "skip"
    )


class ReviewSQLMixin(SQLMixinBase, ReviewStoreBase):
    """Review-queue methods implemented with SQLAlchemy."""

    def _locked_item(self, s: Session, item_id: int) -> ReviewItemRow:
        if not _valid_id(item_id):
            raise NotFoundError(f"no review item {item_id}")
        q = sa.select(_I).where(_I.id == item_id).execution_options(populate_existing=True)
        if self.dialect == "postgresql":
            q = q.with_for_update()
        row = s.scalars(q).first()
        if row is None:
            raise NotFoundError(f"no review item {item_id}")
        return row

    def _recent_ids(self, s: Session, reviewer: str) -> list[int]:
        return list(
            s.scalars(
                sa.select(_D.id)
                .where(_D.reviewer == reviewer, _D.undone_at.is_(None))
                .order_by(_D.id.desc())
                .limit(RECENT_DECISIONS)
            )
        )

    def _own_decision(self, s: Session, decision_id: int, reviewer: str) -> ReviewDecisionRow:
        row = s.get(_D, decision_id) if _valid_id(decision_id) else None
        if row is None or row.reviewer != reviewer:
            raise NotFoundError(f"no review decision {decision_id} by {reviewer!r}")
        if row.undone_at is not None:
            raise ConflictError(f"review decision {decision_id} is already undone")
        if row.id not in self._recent_ids(s, reviewer):
            raise ConflictError(
                f"review decision {decision_id} is older than your latest {RECENT_DECISIONS}; "
                "only those can be undone or edited"
            )
        return row

    # -- queue ---------------------------------------------------------------------------------
    def enqueue_review_items(
        self, drafts: Sequence[ReviewItemDraft], *, reviews_needed: int = 1
    ) -> list[int]:
        if not drafts:
            return []
        now = utcnow()
        rows = [
            ReviewItemRow(
                model_name=d.model_name,
                model_version=d.model_version,
                model_digest=d.model_digest,
                calibration_id=d.calibration_id,
                inputs=d.inputs,
                guess=d.guess,
                confidence=d.confidence,
                margin=d.margin,
                uncertainty=d.confidence if d.margin is None else d.margin,
                reason=d.reason,
                request_id=d.request_id,
                created_at=d.created_at,
                enqueued_at=now,
                reviews_needed=reviews_needed,
                reviews_done=0,
                done=False,
            )
            for d in drafts
        ]
        with self._session(write=True) as s:
            s.add_all(rows)
            s.flush()
            return [r.id for r in rows]

    def get_review_item(self, item_id: int) -> ReviewItem:
        if not _valid_id(item_id):
            raise NotFoundError(f"no review item {item_id}")
        with self._session() as s:
            row = s.get(_I, item_id)
            if row is None:
                raise NotFoundError(f"no review item {item_id}")
            return _item(row, utcnow())

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
        check_list_limit(limit)
        check_item_status(status)
        now = utcnow()
        q = sa.select(_I).where(*_status_filter(status, now))
        if reason is not None:
            q = q.where(_I.reason == reason)
        if model_name is not None:
            q = q.where(_I.model_name == model_name)
        if item_ids is not None:
            ids = [i for i in item_ids if _valid_id(i)]
            if not ids:
                return []
            q = q.where(_I.id.in_(ids))
        if after_id is not None:
            if order != "time":
                raise InvalidArgumentError("after_id pages only with order='time'")
            q = q.where(_I.id > after_id)
        key = (_I.uncertainty, _I.id) if order == "uncertainty" else (_I.id,)
        with self._session() as s:
            return [_item(r, now) for r in s.scalars(q.order_by(*key).limit(limit))]

    def claim_next_review_item(
        self,
        reviewer: str,
        *,
        order: ReviewOrder,
        lease_seconds: float,
        model_name: str | None = None,
        reason: ReviewReason | None = None,
    ) -> ReviewItem | None:
        filters: list[sa.ColumnElement[bool]] = [_I.done.is_(False)]
        if model_name is not None:
            filters.append(_I.model_name == model_name)
        if reason is not None:
            filters.append(_I.reason == reason)
        # each order is the order of an index, so the first free item is found without a sort
        # (ties in uncertainty go by queueing order)
        key = (_I.uncertainty, _I.id) if order == "uncertainty" else (_I.created_at, _I.id)
        pg = self.dialect == "postgresql"
        with self._session(write=True) as s:
            now = utcnow()
            until = now + timedelta(seconds=lease_seconds)
            # A reviewer who still holds an item (a reload, or an item given back by an undo)
            # gets it again: the most recently claimed first.
            # `done IS NOT true` (not `= false`) so that SQLite looks the reviewer's claims up
            # by the claimed_by index instead of walking every open item and sorting them
            mine_q = (
                sa.select(_I)
                .where(_I.done.is_not(True), *filters[1:], _I.claimed_by == reviewer)
                .order_by(_I.lease_expires_at.desc(), _I.id)
                .limit(1)
            )
            row = s.scalars(mine_q.with_for_update() if pg else mine_q).first()
            if row is None:
                free = sa.or_(_I.claimed_by.is_(None), _I.lease_expires_at <= now)
                for skipped in (False, True):
                    cond = _skipped(reviewer)
                    q = (
                        sa.select(_I)
                        .where(*filters, free, ~_counting(reviewer), cond if skipped else ~cond)
                        .order_by(*key)
                        .limit(1)
                    )
                    row = s.scalars(q.with_for_update(skip_locked=True) if pg else q).first()
                    if row is not None:
                        break
            if row is None:
                return None
            row.claimed_by = reviewer
            row.lease_expires_at = until
            s.flush()
            return _item(row, now)

    def claim_review_item(self, item_id: int, reviewer: str, *, lease_seconds: float) -> ReviewItem:
        with self._session(write=True) as s:
            row = self._locked_item(s, item_id)
            now = utcnow()
            lease = None if row.lease_expires_at is None else as_utc(row.lease_expires_at)
            if row.claimed_by not in (None, reviewer) and lease is not None and lease > now:
                raise ConflictError(f"review item {item_id} is claimed by another reviewer")
            if row.done:
                raise ConflictError(f"review item {item_id} already has its reviews")
            if s.scalar(sa.select(_counting(reviewer)).where(_I.id == item_id)):
                raise ConflictError(f"{reviewer!r} already decided review item {item_id}")
            row.claimed_by = reviewer
            row.lease_expires_at = now + timedelta(seconds=lease_seconds)
            s.flush()
            return _item(row, now)

    def release_review_claim(self, item_id: int, reviewer: str) -> None:
        with self._session(write=True) as s:
            row = self._locked_item(s, item_id)
            if row.claimed_by == reviewer:
                row.claimed_by = None
                row.lease_expires_at = None

    def decide_review_item(
        self,
        item_id: int,
        reviewer: str,
        kind: DecisionKind,
        label: Any,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> ReviewDecision:
        with self._session(write=True) as s:
            row = self._locked_item(s, item_id)
            if row.claimed_by != reviewer:
                held = row.claimed_by is not None and as_utc(row.lease_expires_at) > utcnow()  # type: ignore[arg-type]
                raise ConflictError(
                    f"review item {item_id} is claimed by another reviewer"
                    if held
                    else f"review item {item_id} is not claimed by {reviewer!r}; claim it first"
                )
            if kind != "skip":
                if row.done:
                    raise ConflictError(f"review item {item_id} already has its reviews")
                if s.scalar(sa.select(_counting(reviewer)).where(_I.id == item_id)):
                    raise ConflictError(f"{reviewer!r} already decided review item {item_id}")
            now = utcnow()
            d = ReviewDecisionRow(
                item_id=item_id,
                reviewer=reviewer,
                kind=kind,
                label=label,
                created_at=now,
                updated_at=now,
                source="labline",
                meta=dict(meta or {}),
            )
            s.add(d)
            if kind != "skip":
                row.reviews_done += 1
                row.done = row.reviews_done >= row.reviews_needed
            row.claimed_by = None
            row.lease_expires_at = None
            s.flush()
            return _decision(d)

    def undo_review_decision(
        self, decision_id: int, reviewer: str, *, lease_seconds: float = 300.0
    ) -> ReviewDecision:
        with self._session(write=True) as s:
            d = self._own_decision(s, decision_id, reviewer)
            row = self._locked_item(s, d.item_id)
            now = utcnow()
            d.undone_at = now
            if d.kind != "skip":
                row.reviews_done -= 1
                row.done = row.reviews_done >= row.reviews_needed
            lease = None if row.lease_expires_at is None else as_utc(row.lease_expires_at)
            if not row.done and (row.claimed_by is None or lease is None or lease <= now):
                row.claimed_by = reviewer
                row.lease_expires_at = now + timedelta(seconds=lease_seconds)
            s.flush()
            return _decision(d)

    def edit_review_decision(
        self, decision_id: int, reviewer: str, kind: DecisionKind, label: Any
    ) -> ReviewDecision:
        if kind == "skip":
            raise InvalidArgumentError("a decision can be edited into a label or a reject only")
        with self._session(write=True) as s:
            d = self._own_decision(s, decision_id, reviewer)
            if d.kind == "skip":
                raise ConflictError(
                    f"review decision {decision_id} is a skip; undo it and decide the item"
                )
            now = utcnow()
            edits = list((d.meta or {}).get("edits", []))
            edits.append({"kind": d.kind, "label": d.label, "until": now.isoformat()})
            d.meta = {**(d.meta or {}), "edits": edits}
            d.kind = kind
            d.label = label
            d.updated_at = now
            s.flush()
            return _decision(d)

    def recent_review_decisions(self, reviewer: str, limit: int) -> list[ReviewDecision]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(_D)
                .where(_D.reviewer == reviewer, _D.undone_at.is_(None))
                .order_by(_D.id.desc())
                .limit(max(1, min(int(limit), MAX_LIST_LIMIT)))
            )
            return [_decision(r) for r in rows]

    def list_review_decisions(
        self,
        *,
        item_ids: Sequence[int] | None = None,
        include_undone: bool = False,
        include_skips: bool = False,
    ) -> list[ReviewDecision]:
        q = sa.select(_D)
        if item_ids is not None:
            ids = [i for i in item_ids if _valid_id(i)]
            if not ids:
                return []
            q = q.where(_D.item_id.in_(ids))
        if not include_undone:
            q = q.where(_D.undone_at.is_(None))
        if not include_skips:
            q = q.where(_D.kind != "skip")
        with self._session() as s:
            return [_decision(r) for r in s.scalars(q.order_by(_D.id))]

    def import_review_decisions(self, decisions: Sequence[ImportedDecision]) -> list[int]:
        with self._session(write=True) as s:
            created: list[ReviewDecisionRow] = []
            for item_id, reviewer, kind, label, source, meta in decisions:
                row = self._locked_item(s, item_id)
                if kind == "skip":
                    raise InvalidArgumentError("imported decisions are labels or rejects")
                prior = s.scalars(
                    sa.select(_D).where(
                        _D.item_id == item_id,
                        _D.reviewer == reviewer,
                        _D.undone_at.is_(None),
                        _D.kind != "skip",
                    )
                ).first()
                if prior is not None:
                    if prior.kind == kind and prior.label == label:
                        continue
                    raise ConflictError(
                        f"{reviewer!r} already decided review item {item_id} differently"
                    )
                now = utcnow()
                d = ReviewDecisionRow(
                    item_id=item_id,
                    reviewer=reviewer,
                    kind=kind,
                    label=label,
                    created_at=now,
                    updated_at=now,
                    source=source,
                    meta=dict(meta),
                )
                s.add(d)
                row.reviews_done += 1
                row.done = row.reviews_done >= row.reviews_needed
                if row.claimed_by == reviewer:
                    row.claimed_by = None
                    row.lease_expires_at = None
                s.flush()
                created.append(d)
            return [d.id for d in created]

    def set_reviews_needed(self, item_ids: Sequence[int], reviews_needed: int) -> int:
        ids = [i for i in item_ids if _valid_id(i)]
        if not ids:
            return 0
        with self._session(write=True) as s:
            result = s.execute(
                sa.update(_I)
                .where(_I.id.in_(ids))
                .values(
                    reviews_needed=reviews_needed,
                    done=_I.reviews_done >= reviews_needed,
                )
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def review_counts(self, *, model_name: str | None = None) -> ReviewCounts:
        now = utcnow()
        live = sa.and_(_I.claimed_by.is_not(None), _I.lease_expires_at > now)
        state = sa.case((_I.done.is_(True), "done"), (live, "claimed"), else_="open")
        q = sa.select(state, _I.reason, sa.func.count()).group_by(state, _I.reason)
        if model_name is not None:
            q = q.where(_I.model_name == model_name)
        counts = {"total": 0, "open": 0, "claimed": 0, "done": 0, "deferred": 0, "audit": 0}
        with self._session() as s:
            for st, why, n in s.execute(q):
                counts[st] += n
                counts[why] = counts.get(why, 0) + n
                counts["total"] += n
        return counts
