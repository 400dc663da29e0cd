"""Helpers shared by the review tests: drafts and a reviewer who labels what it is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import labline
from labline import ReviewItemDraft

DIGEST = "sha256:" + "ab" * 32


def draft(i: int = 0, **kw: Any) -> ReviewItemDraft:
    """A deferred answer of digits/1 to an 8×8 input, guessing ``i % 10``."""
    base: dict[str, Any] = dict(
        model_name="digits",
        model_version=1,
        model_digest=DIGEST,
        calibration_id=7,
        inputs=[float((i + j) % 17) for j in range(64)],
        guess=i % 10,
        confidence=0.6,
        margin=0.5,
        reason="deferred",
        request_id=f"req-{i}",
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
    )
    base.update(kw)
    return ReviewItemDraft(**base)


def review_all(client: labline.Client, answer: Callable[[labline.ReviewItem], Any]) -> int:
    """Claim and decide items until none is left for the client's actor; ``answer`` returns
    a label, or None to reject. Returns how many items were decided."""
    n = 0
    while (item := client.next_review_item(order="time")) is not None:
        label = answer(item)
        if label is None:
            client.reject_review_item(item.id)
        else:
            client.label_review_item(item.id, label)
        n += 1
    return n
