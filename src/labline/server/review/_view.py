"""What the page shows of an item: the facts, the input in its form (an image URL, table rows,
text or plain values) and the keyboard's class keys."""

from __future__ import annotations

import json
from typing import Any

from ... import ReviewItem
from ...core import image_grid, input_kind

__all__ = ["class_keys", "item_view"]

_DIGITS = [str(d) for d in range(10)]


def class_keys(classes: tuple[Any, ...] | None) -> list[dict[str, Any]]:
    """Which key picks which class: when the classes are the digits 0–9, each digit key picks
    itself; otherwise 1–9 then 0 pick the first ten classes in order."""
    if not classes:
        return []
    if sorted(str(c) for c in classes) == _DIGITS:
        return [{"key": str(c), "label": c} for c in sorted(classes, key=str)]
    keys = [*_DIGITS[1:], "0"]
    return [{"key": keys[i] if i < len(keys) else None, "label": c} for i, c in enumerate(classes)]


def item_view(item: ReviewItem, classes: tuple[Any, ...] | None, base: str) -> dict[str, Any]:
    """The JSON the page renders for one item (the page sets every value as text)."""
    kind = input_kind(item.inputs)
    view: dict[str, Any] = {
        "id": item.id,
        "model": item.model_name,
        "version": item.model_version,
        "guess": item.guess,
        "confidence": item.confidence,
        "margin": item.margin,
        "reason": item.reason,
        "created_at": item.created_at,
        "status": item.status,
        "reviews_done": item.reviews_done,
        "reviews_needed": item.reviews_needed,
        "lease_expires_at": item.lease_expires_at,
        "kind": kind,
        "classes": class_keys(classes),
    }
    if kind == "image":
        grid = image_grid(item.inputs)
        assert grid is not None
        view["image"] = {
            "url": f"{base}/api/items/{item.id}/image.png",
            "width": len(grid[0]),
            "height": len(grid),
        }
    elif kind == "table":
        view["table"] = [[str(k), v] for k, v in item.inputs.items()]
    elif kind == "text":
        text = item.inputs
        if isinstance(text, dict):
            text = next(iter(text.values()))
        elif isinstance(text, list):
            text = text[0]
        view["text"] = text
    else:
        view["values"] = json.dumps(item.inputs)
    return view
