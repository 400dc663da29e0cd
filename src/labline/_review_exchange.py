"""What the review queue tells and trades: its statistics (counts, model accuracy on reviewed
items, audit accuracy with a Wilson interval, agreement as Cohen's or Fleiss' kappa), the
export of items (Label Studio tasks or labline's JSON lines) and the import of Label Studio's
annotations. Called by :class:`~labline._review.ReviewMethods`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import InvalidArgumentError
from .core._json import to_jsonable
from .core._label_studio import parse_label_studio_export, to_label_studio_task
from .core._review import (
    AuditAccuracy,
    Outcome,
    ReviewAgreement,
    ReviewDecision,
    ReviewImportReport,
    ReviewItem,
    ReviewReason,
    ReviewStats,
    item_outcome,
)
from .core.stats._agreement import cohen_kappa, fleiss_kappa, fleiss_table, wilson_interval

if TYPE_CHECKING:
    from ._review import ReviewMethods

__all__ = [
    "ExportFormat",
    "audit_accuracy",
    "export_items",
    "import_label_studio",
    "iter_items",
    "review_stats",
]

ExportFormat = Literal["label-studio", "jsonl"]
_PAGE = 1000


def iter_items(
    client: ReviewMethods,
    *,
    status: str | None = None,
    model: str | None = None,
    reason: ReviewReason | None = None,
) -> Iterator[list[ReviewItem]]:
    """Pages of items in id order (each page at most 1,000 items)."""
    after: int | None = None
    while True:
        page = client.store.list_review_items(
            status=status, model_name=model, reason=reason, limit=_PAGE, after_id=after
        )
        if not page:
            return
        yield page
        after = page[-1].id


def _decisions_by_item(
    client: ReviewMethods, items: list[ReviewItem]
) -> dict[int, list[ReviewDecision]]:
    by_item: dict[int, list[ReviewDecision]] = defaultdict(list)
    for d in client.store.list_review_decisions(item_ids=[i.id for i in items]):
        by_item[d.item_id].append(d)
    return by_item


def _answer(d: ReviewDecision) -> str:
    return json.dumps([d.kind, d.label], sort_keys=True)


def _agreement(reviews: list[list[ReviewDecision]]) -> tuple[ReviewAgreement, ...]:
    by_size: dict[int, list[list[str]]] = defaultdict(list)
    for decisions in reviews:
        if len(decisions) >= 2:
            by_size[len(decisions)].append([_answer(d) for d in decisions])
    out = []
    for size in sorted(by_size):
        ratings = by_size[size]
        unanimous = sum(len(set(r)) == 1 for r in ratings) / len(ratings)
        if size == 2:
            kappa = cohen_kappa([r[0] for r in ratings], [r[1] for r in ratings])
            out.append(ReviewAgreement(2, "cohen", kappa, len(ratings), unanimous))
        else:
            kappa = fleiss_kappa(fleiss_table(ratings))
            out.append(ReviewAgreement(size, "fleiss", kappa, len(ratings), unanimous))
    return tuple(out)


def _guess_was_right(item: ReviewItem, outcome: Outcome) -> bool:
    """Whether the reviewed outcome (a class or a rejection, never disputed) is the guess."""
    return outcome[0] == "label" and outcome[1] == item.guess


def audit_accuracy(client: ReviewMethods, model: str, version: int | None) -> AuditAccuracy:
    """See :meth:`labline.Client.audit_accuracy`."""
    correct = checked = 0
    for page in iter_items(client, status="done", model=model, reason="audit"):
        items = [i for i in page if version is None or i.model_version == version]
        if not items:
            continue
        decisions = _decisions_by_item(client, items)
        for item in items:
            outcome = item_outcome(decisions.get(item.id, []))
            if outcome is None or outcome[0] == "disputed":
                continue
            checked += 1
            correct += _guess_was_right(item, outcome)
    low, high = wilson_interval(correct, checked) if checked else (None, None)
    return AuditAccuracy(
        model_name=model,
        model_version=version,
        correct=correct,
        checked=checked,
        accuracy=correct / checked if checked else None,
        ci_low=low,
        ci_high=high,
    )


def review_stats(client: ReviewMethods, model: str | None = None) -> ReviewStats:
    """See :meth:`labline.Client.review_stats`."""
    counts = client.store.review_counts(model_name=model)
    outcomes: Counter[str] = Counter()
    model_ok = model_n = audit_ok = audit_n = 0
    reviewers: Counter[str] = Counter()
    reviews: list[list[ReviewDecision]] = []
    for page in iter_items(client, model=model):
        decisions = _decisions_by_item(client, page)
        for item in page:
            mine = decisions.get(item.id, [])
            for d in mine:
                reviewers[d.reviewer] += 1
            if item.status != "done":
                continue
            reviews.append(mine)
            outcome = item_outcome(mine)
            if outcome is None:
                continue
            outcomes[outcome[0]] += 1
            if outcome[0] == "disputed":
                continue
            correct = _guess_was_right(item, outcome)
            model_n += 1
            model_ok += correct
            if item.reason == "audit":
                audit_n += 1
                audit_ok += correct
    return ReviewStats(
        total=counts["total"],
        open=counts["open"],
        claimed=counts["claimed"],
        done=counts["done"],
        deferred=counts.get("deferred", 0),
        audit=counts.get("audit", 0),
        labelled=outcomes["label"],
        rejected=outcomes["reject"],
        disputed=outcomes["disputed"],
        model_correct=model_ok,
        model_checked=model_n,
        audit_correct=audit_ok,
        audit_checked=audit_n,
        audit_accuracy=audit_ok / audit_n if audit_n else None,
        audit_ci=wilson_interval(audit_ok, audit_n) if audit_n else None,
        decisions_by_reviewer=dict(sorted(reviewers.items())),
        agreement=_agreement(reviews),
    )


def export_items(
    client: ReviewMethods,
    *,
    format: ExportFormat = "label-studio",
    status: str | None = "pending",
    model: str | None = None,
) -> Iterator[dict[str, Any]]:
    """See :meth:`labline.Client.export_review_items`."""
    if format not in ("label-studio", "jsonl"):
        raise InvalidArgumentError("format must be 'label-studio' or 'jsonl'")
    for page in iter_items(client, status=status, model=model):
        if format == "label-studio":
            yield from (to_label_studio_task(i) for i in page)
            continue
        decisions = _decisions_by_item(client, page)
        for item in page:
            row = to_jsonable(item, non_finite="null")
            row["decisions"] = [to_jsonable(d) for d in decisions.get(item.id, [])]
            outcome = item_outcome(decisions.get(item.id, []))
            row["outcome"] = None if outcome is None else {"kind": outcome[0], "label": outcome[1]}
            yield row


def import_label_studio(client: ReviewMethods, tasks: Any) -> ReviewImportReport:
    """See :meth:`labline.Client.import_label_studio`."""
    annotations, passed = parse_label_studio_export(tasks)
    rows = []
    for a in annotations:
        item = client.get_review_item(a.item_id)
        label = None if a.choice is None else client._class_of(item, a.choice)
        meta = {"annotation_id": a.annotation_id, "task_id": a.task_id}
        rows.append((a.item_id, a.annotator, a.kind, label, "label-studio", to_jsonable(meta)))
    ids = client.import_review_decisions(rows)
    return ReviewImportReport(
        tasks=len(tasks),
        recorded=len(ids),
        repeated=len(rows) - len(ids),
        passed=passed,
        decision_ids=tuple(ids),
    )
