"""The human-in-the-loop part of the HTTP store (a mixin of :class:`HttpStore`): calibrations,
the review queue and labelled datasets, each call a request to ``labline server``.

The server records the token's name as the writer of a calibration or a dataset version and
as the reviewer of every claim and decision; the ``reviewer``/``created_by`` a caller passes is
checked as every backend checks it, not sent. Claims are made on the server, in its database,
so the contract's exclusive leases hold across the wire; a claim or a decision is never
repeated after a failure that may have reached the server (only a refused connection is
retried). Long lists of item ids travel in parts small enough for a URL and come back merged
in the contract's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..._exceptions import NotFoundError
from ...core import to_jsonable
from ...core._calibration import Calibration, CalibrationDraft, check_calibration_draft
from ...core._grammar import check_actor, is_model_version
from ...core._review import (
    DecisionKind,
    LabelledDataset,
    ReviewDecision,
    ReviewItem,
    ReviewItemDraft,
    ReviewOrder,
    ReviewReason,
    check_item_status,
    check_list_limit,
    check_reviewer,
)
from .._calibration_base import CalibrationStoreBase
from .._labelled_base import LabelledRow, LabelledStoreBase
from .._review_base import ImportedDecision, ReviewCounts, ReviewStoreBase
from ._records import decode_record
from ._transport import HttpTransport
from ._transport import path_segment as _q

__all__ = ["HitlHttpMixin", "row_id"]

IDS_PER_REQUEST = 500
"""Item ids per listing request (a URL stays well under the server's header limit)."""

_MAX_ID = 2**63 - 1


def row_id(value: object) -> int | None:
    """``value`` if it could name a stored row, else None (it names nothing)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        return None
    return value


def _parts(ids: Sequence[int]) -> list[list[int]]:
    wanted = sorted({i for i in ids if row_id(i) is not None})
    return [wanted[k : k + IDS_PER_REQUEST] for k in range(0, len(wanted), IDS_PER_REQUEST)]


def _draft_body(d: ReviewItemDraft) -> dict[str, Any]:
    body: dict[str, Any] = to_jsonable(d, non_finite="null")
    body["created_at"] = d.created_at.isoformat()
    return body


class HitlHttpMixin(CalibrationStoreBase, ReviewStoreBase, LabelledStoreBase):
    """Calibration, review-queue and labelled-dataset methods over HTTP."""

    http: HttpTransport

    # -- calibrations --------------------------------------------------------------------------
    def add_calibration(self, draft: CalibrationDraft) -> Calibration:
        d = check_calibration_draft(draft)  # also what makes every number JSON
        body = to_jsonable(d)
        for field in ("model_name", "model_version", "created_by"):
            body.pop(field)
        data = self.http.json(
            "POST",
            f"/models/{_q(d.model_name)}/versions/{d.model_version}/calibrations",
            json_body=body,
        )
        return decode_record(Calibration, data)

    def get_calibration(self, calibration_id: int) -> Calibration:
        cid = row_id(calibration_id)
        if cid is None:
            raise NotFoundError(f"no calibration {calibration_id!r}")
        return decode_record(Calibration, self.http.json("GET", f"/calibrations/{cid}"))

    def _version_path(self, name: str, version: int) -> str:
        if not is_model_version(version):
            raise NotFoundError(f"no model version {name}/{version}")
        return f"/models/{_q(name)}/versions/{version}"

    def list_calibrations(self, name: str, version: int) -> list[Calibration]:
        data = self.http.json("GET", f"{self._version_path(name, version)}/calibrations")
        return [decode_record(Calibration, c) for c in data]

    def current_calibration(self, name: str, version: int) -> Calibration | None:
        path = self._version_path(name, version)
        response = self.http.request("GET", f"{path}/calibration", ok=(404,))
        if response.status_code == 404:
            self.http.json("GET", path)  # an unknown version raises NotFoundError here
            return None
        return decode_record(Calibration, response.json())

    # -- review queue --------------------------------------------------------------------------
    def enqueue_review_items(
        self, drafts: Sequence[ReviewItemDraft], *, reviews_needed: int = 1
    ) -> list[int]:
        if not drafts:
            return []
        body = {"items": [_draft_body(d) for d in drafts], "reviews_needed": reviews_needed}
        return list(self.http.json("POST", "/review/items", json_body=body)["ids"])

    def get_review_item(self, item_id: int) -> ReviewItem:
        iid = row_id(item_id)
        if iid is None:
            raise NotFoundError(f"no review item {item_id}")
        return decode_record(ReviewItem, self.http.json("GET", f"/review/items/{iid}"))

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
        query = {
            "status": check_item_status(status),
            "reason": reason,
            "model": model_name,
            "order": order,
            "limit": limit,
            "after_id": after_id,
        }
        params = {k: v for k, v in query.items() if v is not None}
        if item_ids is None:
            data = self.http.json("GET", "/review/items", params=params)
            return [decode_record(ReviewItem, i) for i in data]
        items: list[ReviewItem] = []
        for part in _parts(item_ids):
            data = self.http.json("GET", "/review/items", params={**params, "item_id": part})
            items.extend(decode_record(ReviewItem, i) for i in data)
        # each part came back in the queue's order; merged, they keep it
        if order == "uncertainty":
            items.sort(key=lambda i: (i.uncertainty, i.id))
        else:
            items.sort(key=lambda i: i.id)
        return items[:limit]

    def claim_next_review_item(
        self,
        reviewer: str,
        *,
        order: ReviewOrder,
        lease_seconds: float,
        model_name: str | None = None,
        reason: ReviewReason | None = None,
    ) -> ReviewItem | None:
        check_reviewer(reviewer)
        body = {
            "order": order,
            "lease_seconds": float(lease_seconds),
            "model": model_name,
            "reason": reason,
        }
        item = self.http.json("POST", "/review/claims", json_body=body)["item"]
        return None if item is None else decode_record(ReviewItem, item)

    def claim_review_item(self, item_id: int, reviewer: str, *, lease_seconds: float) -> ReviewItem:
        check_reviewer(reviewer)
        iid = row_id(item_id)
        if iid is None:
            raise NotFoundError(f"no review item {item_id}")
        data = self.http.json(
            "POST", f"/review/items/{iid}/claim", json_body={"lease_seconds": float(lease_seconds)}
        )
        return decode_record(ReviewItem, data)

    def release_review_claim(self, item_id: int, reviewer: str) -> None:
        check_reviewer(reviewer)
        iid = row_id(item_id)
        if iid is None:
            raise NotFoundError(f"no review item {item_id}")
        self.http.json("DELETE", f"/review/items/{iid}/claim", idempotent=True)

    def decide_review_item(
        self,
        item_id: int,
        reviewer: str,
        kind: DecisionKind,
        label: Any,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> ReviewDecision:
        check_reviewer(reviewer)
        iid = row_id(item_id)
        if iid is None:
            raise NotFoundError(f"no review item {item_id}")
        body = {"kind": kind, "label": label, "meta": None if meta is None else to_jsonable(meta)}
        data = self.http.json("POST", f"/review/items/{iid}/decisions", json_body=body)
        return decode_record(ReviewDecision, data)

    def _decision_id(self, decision_id: int, reviewer: str) -> int:
        did = row_id(decision_id)
        if did is None:
            raise NotFoundError(f"no review decision {decision_id} by {reviewer!r}")
        return did

    def undo_review_decision(
        self, decision_id: int, reviewer: str, *, lease_seconds: float = 300.0
    ) -> ReviewDecision:
        check_reviewer(reviewer)
        did = self._decision_id(decision_id, reviewer)
        data = self.http.json(
            "POST",
            f"/review/decisions/{did}/undo",
            json_body={"lease_seconds": float(lease_seconds)},
        )
        return decode_record(ReviewDecision, data)

    def edit_review_decision(
        self, decision_id: int, reviewer: str, kind: DecisionKind, label: Any
    ) -> ReviewDecision:
        check_reviewer(reviewer)
        did = self._decision_id(decision_id, reviewer)
        data = self.http.json(
            "PATCH", f"/review/decisions/{did}", json_body={"kind": kind, "label": label}
        )
        return decode_record(ReviewDecision, data)

    def recent_review_decisions(self, reviewer: str, limit: int) -> list[ReviewDecision]:
        check_reviewer(reviewer)
        data = self.http.json(
            "GET", "/review/decisions/mine", params={"limit": max(1, min(int(limit), 10_000))}
        )
        return [decode_record(ReviewDecision, d) for d in data]

    def list_review_decisions(
        self,
        *,
        item_ids: Sequence[int] | None = None,
        include_undone: bool = False,
        include_skips: bool = False,
    ) -> list[ReviewDecision]:
        flags = {
            "include_undone": str(include_undone).lower(),
            "include_skips": str(include_skips).lower(),
        }
        if item_ids is None:
            data = self.http.json("GET", "/review/decisions", params=flags)
            return [decode_record(ReviewDecision, d) for d in data]
        decisions: list[ReviewDecision] = []
        for part in _parts(item_ids):
            data = self.http.json("GET", "/review/decisions", params={**flags, "item_id": part})
            decisions.extend(decode_record(ReviewDecision, d) for d in data)
        return sorted(decisions, key=lambda d: d.id)

    def import_review_decisions(self, decisions: Sequence[ImportedDecision]) -> list[int]:
        if not decisions:
            return []
        body = {
            "decisions": [
                {
                    "item_id": item_id,
                    "reviewer": reviewer,
                    "kind": kind,
                    "label": label,
                    "source": source,
                    "meta": to_jsonable(dict(meta)),
                }
                for item_id, reviewer, kind, label, source, meta in decisions
            ]
        }
        return list(self.http.json("POST", "/review/imports", json_body=body)["ids"])

    def set_reviews_needed(self, item_ids: Sequence[int], reviews_needed: int) -> int:
        ids = [i for i in item_ids if row_id(i) is not None]
        if not ids:
            return 0
        body = {"item_ids": ids, "reviews_needed": reviews_needed}
        data = self.http.json("POST", "/review/reviews-needed", json_body=body, idempotent=True)
        return int(data["changed"])

    def review_counts(self, *, model_name: str | None = None) -> ReviewCounts:
        params = {} if model_name is None else {"model": model_name}
        return dict(self.http.json("GET", "/review/counts", params=params))

    # -- labelled datasets ---------------------------------------------------------------------
    def add_labelled_dataset(
        self,
        name: str,
        fingerprint: str,
        examples: Sequence[LabelledRow],
        *,
        created_by: str,
        query: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> tuple[LabelledDataset, bool]:
        check_actor(created_by, "created_by")
        body = {
            "fingerprint": fingerprint,
            "examples": [
                {"item_id": item_id, "label": label, "decision_ids": list(decision_ids)}
                for item_id, label, decision_ids in examples
            ],
            "query": to_jsonable(dict(query)),
            "meta": to_jsonable(dict(meta)),
        }
        # the same content again returns the same version: safe to repeat
        data = self.http.json(
            "POST", f"/datasets/{_q(name)}/versions", json_body=body, idempotent=True
        )
        return decode_record(LabelledDataset, data["dataset"]), bool(data["created"])

    def list_labelled_datasets(self, name: str | None = None) -> list[LabelledDataset]:
        params = {} if name is None else {"name": name}
        data = self.http.json("GET", "/datasets", params=params)
        return [decode_record(LabelledDataset, d) for d in data]

    def get_labelled_dataset(self, name: str, version: int | None = None) -> LabelledDataset:
        if version is not None and not is_model_version(version):
            raise NotFoundError(f"no labelled dataset {name}@{version}")
        params = {} if version is None else {"version": version}
        return decode_record(
            LabelledDataset, self.http.json("GET", f"/datasets/{_q(name)}", params=params)
        )

    def labelled_dataset_rows(self, name: str, version: int) -> list[LabelledRow]:
        if not is_model_version(version):
            raise NotFoundError(f"no labelled dataset {name}@{version}")
        data = self.http.json("GET", f"/datasets/{_q(name)}/versions/{version}/rows")
        return [(r["item_id"], r["label"], tuple(r["decision_ids"])) for r in data]
