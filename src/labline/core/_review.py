"""Records of the review queue: what serving hands over (:class:`ReviewItemDraft`), what the
queue holds (:class:`ReviewItem`), what reviewers decide (:class:`ReviewDecision`), and the
checks every draft and decision passes before it is stored (one owner of those rules).

No persistence and no I/O here; the store contract is ``labline.store._review_base``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .._exceptions import InvalidArgumentError
from ._grammar import Digest, check_actor, check_model_name
from ._json import to_jsonable

__all__ = [
    "ITEM_STATUSES",
    "MAX_INPUT_BYTES",
    "MAX_LEASE_SECONDS",
    "MAX_LIST_LIMIT",
    "RECENT_DECISIONS",
    "AuditAccuracy",
    "DecisionKind",
    "LabelledDataset",
    "LabelledExample",
    "Outcome",
    "ReviewAgreement",
    "ReviewDecision",
    "ReviewImportReport",
    "ReviewItem",
    "ReviewItemDraft",
    "ReviewOrder",
    "ReviewReason",
    "ReviewStats",
    "check_decision",
    "check_draft",
    "check_item_status",
    "check_label",
    "check_lease_seconds",
    "check_list_limit",
    "check_order",
    "check_reviewer",
    "check_reviews_needed",
    "item_outcome",
]

ReviewReason = Literal["deferred", "audit"]
"""Why an answer went to review: the model deferred it, or it is a random audit sample of the
answers the model kept (which estimates live accuracy without bias)."""

DecisionKind = Literal["label", "reject", "skip"]
"""``label``: the reviewer gave the class; ``reject``: none of the classes fits; ``skip``: the
reviewer passed on the item (it stays in the queue, behind the others, for that reviewer)."""

ReviewOrder = Literal["uncertainty", "time"]
"""``uncertainty``: lowest margin first (the confidence when an item has no margin), ties by
age; ``time``: oldest first."""

MAX_INPUT_BYTES = 1_000_000
"""Largest JSON encoding of one item's inputs that the queue accepts."""

MAX_LEASE_SECONDS = 86_400
RECENT_DECISIONS = 10
"""How many of a reviewer's latest decisions stay editable (and undoable)."""

_MAX_REQUEST_ID = 250
_MAX_LABEL_CHARS = 250
_REASONS = ("deferred", "audit")
_KINDS = ("label", "reject", "skip")


@dataclass(frozen=True)
class ReviewItemDraft:
    """One answer of a served model that people should look at, before it is queued.

    Serving builds these (deferred answers and audit samples) and hands them to
    :meth:`labline.Client.enqueue_review_items` through its bounded buffer.

    Attributes:
        model_name: registered model name.
        model_version: registry version number that answered.
        model_digest: ``sha256:...`` digest of that version's package.
        calibration_id: the calibration whose threshold made the decision (``None`` without one).
        inputs: the request row, JSON-able (a list of numbers, a mapping of column to value, a
            string, ...). NaN and ±Inf are stored as ``null``.
        guess: the model's answer, a JSON scalar (the predicted class).
        confidence: the score the threshold was compared with (top probability by default).
        margin: top-1 minus top-2 probability, when known (orders the queue by uncertainty).
        reason: ``"deferred"`` or ``"audit"``.
        request_id: the id of the serving request (for tracing back).
        created_at: when the model answered (timezone-aware).
    """

    model_name: str
    model_version: int
    model_digest: str
    calibration_id: int | None
    inputs: Any
    guess: Any
    confidence: float
    margin: float | None
    reason: ReviewReason
    request_id: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    """An item in the review queue with its state.

    ``status`` is ``"open"`` (waiting for reviews), ``"claimed"`` (a reviewer holds a live lease
    on it; derived at read time from ``claimed_by`` and ``lease_expires_at``) or ``"done"``
    (``reviews_done`` reached ``reviews_needed``). ``uncertainty`` is the ordering key: the
    margin, or the confidence when there is no margin.
    """

    id: int
    model_name: str
    model_version: int
    model_digest: str
    calibration_id: int | None
    inputs: Any
    guess: Any
    confidence: float
    margin: float | None
    reason: ReviewReason
    request_id: str
    created_at: datetime
    enqueued_at: datetime
    reviews_needed: int
    reviews_done: int
    status: Literal["open", "claimed", "done"]
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def uncertainty(self) -> float:
        """The queue's uncertainty key (lower is reviewed first)."""
        return self.confidence if self.margin is None else self.margin


@dataclass(frozen=True)
class ReviewDecision:
    """One reviewer's decision on one item. ``label`` is the class for ``kind == "label"`` and
    ``None`` otherwise. An undone decision keeps its row (``undone_at`` set) and no longer
    counts; an edited one keeps its id with ``updated_at`` moved."""

    id: int
    item_id: int
    reviewer: str
    kind: DecisionKind
    label: Any
    created_at: datetime
    updated_at: datetime
    undone_at: datetime | None = None
    source: str = "labline"
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> bool:
        """Whether this decision counts as a review (a label or a rejection not undone)."""
        return self.undone_at is None and self.kind != "skip"


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{what} must be a number, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise InvalidArgumentError(f"{what} must be finite")
    return f


def check_label(label: object, what: str = "label") -> Any:
    """Check a class label: a JSON scalar (string, integer, float or boolean), not ``None``.

    Args:
        label: the value to check (numpy scalars are accepted and converted).
        what: how the error message names the field.

    Returns:
        The label as a plain Python scalar.

    Raises:
        InvalidArgumentError: not a scalar, non-finite, or a string longer than 250 characters.
    """
    value = label.item() if hasattr(label, "item") and hasattr(label, "dtype") else label
    if value is None:
        raise InvalidArgumentError(f"{what} is missing")
    if isinstance(value, int):  # bool included
        return value
    if isinstance(value, float):
        return _finite(value, what)
    if isinstance(value, str):
        if not value.strip() or len(value) > _MAX_LABEL_CHARS:
            raise InvalidArgumentError(f"{what} must be 1 to {_MAX_LABEL_CHARS} characters")
        return value
    raise InvalidArgumentError(
        f"{what} must be a string, integer, float or boolean, got {type(value).__name__}"
    )


def _json_inputs(inputs: object, what: str) -> Any:
    value = to_jsonable(inputs, non_finite="null")
    try:
        size = len(json.dumps(value, allow_nan=False, separators=(",", ":")))
    except (TypeError, ValueError) as e:  # pragma: no cover - to_jsonable gives JSON types
        raise InvalidArgumentError(f"{what} is not JSON-able") from e
    if size > MAX_INPUT_BYTES:
        raise InvalidArgumentError(f"{what} is {size} bytes as JSON; at most {MAX_INPUT_BYTES}")
    return value


def check_draft(draft: object, index: int = 0) -> ReviewItemDraft:
    """Check one draft before it is queued and return it normalised (plain JSON inputs and
    guess, floats for the scores).

    Args:
        draft: the value to check.
        index: its position in the batch, named in error messages (``items[3].confidence``).

    Returns:
        A normalised :class:`ReviewItemDraft`.

    Raises:
        InvalidArgumentError: naming the field at fault (never quoting the inputs).
    """
    at = f"items[{index}]"
    if not isinstance(draft, ReviewItemDraft):
        raise InvalidArgumentError(f"{at} must be a ReviewItemDraft, got {type(draft).__name__}")
    try:
        check_model_name(draft.model_name)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"{at}.model_name: {e.message}") from e
    v = draft.model_version
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31 - 1:
        raise InvalidArgumentError(f"{at}.model_version must be an integer from 1 to 2**31-1")
    if not isinstance(draft.model_digest, str) or not Digest.is_canonical(draft.model_digest):
        raise InvalidArgumentError(
            f"{at}.model_digest must be 'sha256:' followed by 64 lowercase hex digits"
        )
    c = draft.calibration_id
    if c is not None and (isinstance(c, bool) or not isinstance(c, int) or not 1 <= c < 2**63):
        raise InvalidArgumentError(f"{at}.calibration_id must be a positive integer or None")
    confidence = _finite(draft.confidence, f"{at}.confidence")
    margin = None if draft.margin is None else _finite(draft.margin, f"{at}.margin")
    if draft.reason not in _REASONS:
        raise InvalidArgumentError(f"{at}.reason must be 'deferred' or 'audit'")
    rid = draft.request_id
    if not isinstance(rid, str) or not 1 <= len(rid) <= _MAX_REQUEST_ID:
        raise InvalidArgumentError(f"{at}.request_id must be 1 to {_MAX_REQUEST_ID} characters")
    if not isinstance(draft.created_at, datetime) or draft.created_at.tzinfo is None:
        raise InvalidArgumentError(f"{at}.created_at must be a timezone-aware datetime")
    return ReviewItemDraft(
        model_name=draft.model_name,
        model_version=v,
        model_digest=draft.model_digest,
        calibration_id=c,
        inputs=_json_inputs(draft.inputs, f"{at}.inputs"),
        guess=check_label(draft.guess, f"{at}.guess"),
        confidence=confidence,
        margin=margin,
        reason=draft.reason,
        request_id=rid,
        created_at=draft.created_at,
    )


def check_decision(kind: object, label: object) -> tuple[DecisionKind, Any]:
    """Check a reviewer's decision: a ``label`` needs a label, ``reject`` and ``skip`` none.

    Returns:
        ``(kind, label)`` with the label normalised (``None`` unless ``kind == "label"``).

    Raises:
        InvalidArgumentError: an unknown kind, a missing or malformed label, or a label given
            with ``reject``/``skip``.
    """
    if kind not in _KINDS:
        raise InvalidArgumentError("kind must be 'label', 'reject' or 'skip'")
    if kind == "label":
        return "label", check_label(label)
    if label is not None:
        raise InvalidArgumentError(f"a {kind} decision takes no label")
    return kind, None  # type: ignore[return-value]


def check_reviews_needed(n: object) -> int:
    """Check a number of reviews per item (1 to 20). Raises InvalidArgumentError."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise InvalidArgumentError("reviews_needed must be an integer from 1 to 20")
    return n


def check_lease_seconds(seconds: object) -> float:
    """Check a claim's lease length (above 0, at most a day). Raises InvalidArgumentError."""
    s = _finite(seconds, "lease_seconds")
    if not 0 < s <= MAX_LEASE_SECONDS:
        raise InvalidArgumentError(f"lease_seconds must be above 0 and at most {MAX_LEASE_SECONDS}")
    return s


MAX_LIST_LIMIT = 10_000
"""The most review items one listing returns."""

ITEM_STATUSES = ("open", "claimed", "done", "pending")
"""What a listing filters on: an item's status, or ``pending`` (open or claimed)."""


def check_item_status(status: object) -> str | None:
    """Check a listing's status filter (``None``: every item). Raises InvalidArgumentError."""
    if status is not None and status not in ITEM_STATUSES:
        raise InvalidArgumentError("status must be 'open', 'claimed', 'done' or 'pending'")
    return status  # type: ignore[return-value]


def check_list_limit(limit: object) -> int:
    """Check how many items a listing may return (1 to 10,000). Raises InvalidArgumentError."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}")
    return limit


def check_order(order: object) -> ReviewOrder:
    """Check a queue order. Raises InvalidArgumentError."""
    if order not in ("uncertainty", "time"):
        raise InvalidArgumentError("order must be 'uncertainty' or 'time'")
    return order  # type: ignore[return-value]


def check_reviewer(reviewer: object) -> str:
    """Check a reviewer's name (an actor name). Raises InvalidArgumentError."""
    return check_actor(reviewer, "reviewer")


@dataclass(frozen=True)
class ReviewAgreement:
    """ReviewAgreement among the reviewers of items reviewed by the same number of people:
    Cohen's kappa for two (first review against second), Fleiss' kappa for more. ``kappa`` is
    ``None`` when undefined (every review gave the same answer); ``unanimous`` is the share of
    items on which every reviewer agreed. A rejection counts as an answer of its own."""

    reviewers_per_item: int
    method: Literal["cohen", "fleiss"]
    kappa: float | None
    n_items: int
    unanimous: float


@dataclass(frozen=True)
class ReviewStats:
    """The state of the queue and what the reviews say about the model.

    ``model_correct``/``model_checked`` compare the model's guess with the reviewed outcome of
    done items with a clear outcome; ``audit_*`` restrict that to audit samples, the unbiased
    estimate of live accuracy (with its Wilson interval); ``disputed`` counts done items whose
    reviewers split evenly.
    """

    total: int
    open: int
    claimed: int
    done: int
    deferred: int
    audit: int
    labelled: int
    rejected: int
    disputed: int
    model_correct: int
    model_checked: int
    audit_correct: int
    audit_checked: int
    audit_accuracy: float | None
    audit_ci: tuple[float, float] | None
    decisions_by_reviewer: Mapping[str, int]
    agreement: tuple[ReviewAgreement, ...]


@dataclass(frozen=True)
class AuditAccuracy:
    """Live accuracy of a served model version, measured on its audit samples: the random
    share of the answers it kept that serving sent to review. Because the sample is random,
    ``accuracy`` estimates the accuracy of the kept answers without bias; ``ci_low`` and
    ``ci_high`` bound it with a Wilson 95% interval. Only done items with a clear outcome
    count (``checked``); ``None`` values mean no audit sample is reviewed yet."""

    model_name: str
    model_version: int | None
    correct: int
    checked: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ReviewImportReport:
    """What an import of outside labels did: ``recorded`` new decisions, ``repeated`` ones
    that were already recorded (an import is idempotent), ``passed`` annotations without a
    choice or cancelled, of ``tasks`` tasks."""

    tasks: int
    recorded: int
    repeated: int
    passed: int
    decision_ids: tuple[int, ...]


Outcome = tuple[Literal["label", "reject", "disputed"], Any]


def item_outcome(decisions: list[ReviewDecision]) -> Outcome | None:
    """The reviewed answer of an item from its counting decisions: the most frequent answer
    (a class, or a rejection); ``("disputed", None)`` when two answers tie for first;
    ``None`` without decisions."""
    votes: dict[str, tuple[int, DecisionKind, Any]] = {}
    for d in decisions:
        if not d.counts:
            continue
        key = json.dumps([d.kind, d.label], sort_keys=True)
        n, _, _ = votes.get(key, (0, d.kind, d.label))
        votes[key] = (n + 1, d.kind, d.label)
    if not votes:
        return None
    ranked = sorted(votes.values(), key=lambda v: -v[0])
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        return ("disputed", None)
    _, kind, label = ranked[0]
    return ("reject", None) if kind == "reject" else ("label", label)


@dataclass(frozen=True)
class LabelledDataset:
    """One version of a data set made of reviewed items (``name`` + ``version``; versions are
    immutable). ``fingerprint`` is the content fingerprint of its table (see
    :meth:`labline.Client.labelled_dataset_table`): a run that logs that table gets the same
    digest, so later runs can tell they trained on the same data. ``query`` says which items
    were taken; ``meta`` sums up the lineage (models, versions, calibrations, reviewers)."""

    name: str
    version: int
    fingerprint: str
    n_examples: int
    created_at: datetime
    created_by: str
    query: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelledExample:
    """One example of a labelled dataset with its lineage: the label came from the decisions
    ``decision_ids`` on review item ``item_id``, which holds the model's answer to request
    ``request_id`` by ``model_name``/``model_version`` (package ``model_digest``) under
    calibration ``calibration_id``."""

    item_id: int
    inputs: Any
    label: Any
    decision_ids: tuple[int, ...]
    reviewers: tuple[str, ...]
    guess: Any
    confidence: float
    reason: ReviewReason
    request_id: str
    model_name: str
    model_version: int
    model_digest: str
    calibration_id: int | None
