"""The JSON shapes of the human-in-the-loop writes of ``/api/v1`` (pydantic v2): calibrations,
the review queue (queueing, claims, decisions, imports) and labelled dataset versions, what
the HTTP store of ``LABLINE_URI=http://...`` sends. Bodies forbid unknown fields, so a
misspelt field is a 400 naming it; labline's own checks (the same on every backend) name the
field of a value that is well formed but not acceptable."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, Strict

from ._schemas import Flag, LabelledDatasetOut, Real, ReviewItemOut, Whole, _In, _Out
from ._schemas_records import When

__all__ = [
    "CalibrationIn",
    "ClaimIn",
    "ClaimNextIn",
    "ClaimedOut",
    "DecisionEditIn",
    "DecisionIn",
    "EnqueueIn",
    "IdsOut",
    "ImportIn",
    "LabelledRowOut",
    "LabelledVersionIn",
    "LabelledVersionOut",
    "ReviewsNeededIn",
    "ReviewsNeededOut",
    "UndoIn",
]

ItemId = Annotated[int, Strict(), Field(ge=1, le=2**63 - 1)]
Lease = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
Label = str | int | float | bool  # a class label: a JSON scalar (labline checks the rest)
Curve = Annotated[list[Real], Field(max_length=1_000_000)]
Text = Annotated[str, Field(max_length=1000)]


class CalibrationIn(_In):
    """A calibration computed by ``labline calibrate`` on the caller's machine; the version
    is the path's, the writer the token's name."""

    model_digest: Annotated[str, Field(max_length=80)]
    method: Annotated[str, Field(max_length=16)]
    score: Text
    target_error: Real
    confidence: Real
    n: Whole
    threshold: Real
    coverage: Real
    coverage_low: Real
    coverage_high: Real
    kept_error: Real
    risk_bound: Real
    best_target: Real
    aurc: Real
    overall_error: Real
    curve_coverage: Curve
    curve_risk: Curve
    curve_threshold: Curve
    data_fingerprint: Annotated[str, Field(max_length=80)]
    data_source: Text
    parity_deferred: Annotated[list[Flag], Field(max_length=1_000_000)]


class ReviewItemDraftIn(_In):
    """One answer to queue (see :class:`labline.ReviewItemDraft`)."""

    model_name: Annotated[str, Field(max_length=250)]
    model_version: Whole
    model_digest: Annotated[str, Field(max_length=80)]
    calibration_id: Whole | None = None
    inputs: Any
    guess: Any
    confidence: Real
    margin: Real | None = None
    reason: Literal["deferred", "audit"]
    request_id: Annotated[str, Field(max_length=250)]
    created_at: When


class EnqueueIn(_In):
    items: Annotated[list[ReviewItemDraftIn], Field(max_length=100_000)]
    reviews_needed: Whole = 1


class IdsOut(_Out):
    ids: list[int]


class ReviewsNeededIn(_In):
    item_ids: Annotated[list[ItemId], Field(max_length=100_000)]
    reviews_needed: Whole


class ReviewsNeededOut(_Out):
    changed: int


class ClaimNextIn(_In):
    order: Literal["uncertainty", "time"] = "uncertainty"
    lease_seconds: Lease = 300.0
    model: Annotated[str, Field(max_length=250)] | None = None
    reason: Literal["deferred", "audit"] | None = None


class ClaimedOut(_Out):
    """The item claimed, or ``null`` when nothing is left for this reviewer."""

    item: ReviewItemOut | None


class ClaimIn(_In):
    lease_seconds: Lease = 300.0


class DecisionIn(_In):
    kind: Literal["label", "reject", "skip"]
    label: Label | None = None
    meta: dict[str, Any] | None = None


class UndoIn(_In):
    lease_seconds: Lease = 300.0


class DecisionEditIn(_In):
    kind: Literal["label", "reject"]
    label: Label | None = None


class ImportedDecisionIn(_In):
    item_id: ItemId
    reviewer: Annotated[str, Field(max_length=250)]
    kind: Literal["label", "reject"]
    label: Label | None = None
    source: Annotated[str, Field(max_length=64)]
    meta: dict[str, Any] = Field(default_factory=dict)


class ImportIn(_In):
    decisions: Annotated[list[ImportedDecisionIn], Field(max_length=100_000)]


class LabelledRowIn(_In):
    item_id: ItemId
    label: Label
    decision_ids: Annotated[list[ItemId], Field(max_length=100)]


class LabelledVersionIn(_In):
    fingerprint: Annotated[str, Field(min_length=1, max_length=80)]
    examples: Annotated[list[LabelledRowIn], Field(max_length=1_000_000)]
    query: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class LabelledVersionOut(_Out):
    dataset: LabelledDatasetOut
    created: bool


class LabelledRowOut(_Out):
    item_id: int
    label: Any
    decision_ids: list[int]
