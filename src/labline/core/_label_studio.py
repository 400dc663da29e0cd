"""Label Studio's JSON formats, written and read here only.

Export: one task per review item, ``{"data": {...}, "predictions": [...]}``. ``data`` holds the
item's input (``input``, plus ``image`` as a PNG data URL for image inputs, or ``text``),
``labline_id`` and the model facts; the model's guess is a prediction with ``score`` = the
confidence and ``model_version`` = the registry version number (as a string; the model's name
is ``data.labline_model``).

Import: Label Studio's JSON export (a list of tasks, each with ``annotations``); every
annotation that is not cancelled and chose one class gives one decision by its annotator.
Choosing :data:`REJECT_CHOICE` is a rejection (none of the classes fits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from .._exceptions import InvalidArgumentError
from ._review import DecisionKind, ReviewItem
from ._review_render import image_grid, input_kind, png_data_url

__all__ = [
    "FROM_NAME",
    "REJECT_CHOICE",
    "TO_NAME",
    "LabelStudioAnnotation",
    "label_studio_config",
    "parse_label_studio_export",
    "to_label_studio_task",
]

FROM_NAME = "label"
TO_NAME = "input"
REJECT_CHOICE = "None of these"


def to_label_studio_task(item: ReviewItem) -> dict[str, Any]:
    """One review item as a Label Studio task with the model's guess as a prediction."""
    kind = input_kind(item.inputs)
    data: dict[str, Any] = {
        "labline_id": item.id,
        "labline_model": item.model_name,
        "labline_model_version": item.model_version,
        "labline_model_digest": item.model_digest,
        "labline_calibration_id": item.calibration_id,
        "labline_reason": item.reason,
        "labline_request_id": item.request_id,
        "input": item.inputs,
    }
    if kind == "image":
        grid = image_grid(item.inputs)
        assert grid is not None
        data["image"] = png_data_url(grid, scale=max(1, 128 // max(len(grid), 1)))
    elif kind == "text":
        text = item.inputs
        if isinstance(text, Mapping):
            text = next(iter(text.values()))
        elif isinstance(text, list):
            text = text[0]
        data["text"] = text
    return {
        "data": data,
        "predictions": [
            {
                "model_version": str(item.model_version),
                "score": item.confidence,
                "result": [
                    {
                        "from_name": FROM_NAME,
                        "to_name": TO_NAME,
                        "type": "choices",
                        "value": {"choices": [str(item.guess)]},
                    }
                ],
            }
        ],
    }


def label_studio_config(classes: Sequence[Any], kind: str = "image") -> str:
    """A Label Studio labelling config for single-choice classification of these tasks.

    Args:
        classes: the class labels (shown as choices; :data:`REJECT_CHOICE` is added).
        kind: ``image``, ``text`` or anything else (the input shown as a key/value table).
    """
    if kind == "image":
        shown = f'<Image name="{TO_NAME}" value="$image"/>'
    elif kind == "text":
        shown = f'<Text name="{TO_NAME}" value="$text"/>'
    else:
        shown = f'<Table name="{TO_NAME}" value="$input"/>'
    choices = "".join(f"<Choice value={quoteattr(str(c))}/>" for c in [*classes, REJECT_CHOICE])
    return (
        f"<View>{shown}"
        f'<Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">{choices}</Choices>'
        "</View>"
    )


@dataclass(frozen=True)
class LabelStudioAnnotation:
    """One usable annotation of an exported task."""

    item_id: int
    annotator: str
    kind: DecisionKind
    choice: str | None
    annotation_id: Any
    task_id: Any


def _annotator(annotation: Mapping[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        who = who.get("email") or who.get("id")
    if who is None or who == "":
        return "label-studio"
    return f"label-studio:{who}"[:250]


def parse_label_studio_export(tasks: Any) -> tuple[list[LabelStudioAnnotation], int]:
    """Read Label Studio's JSON export.

    Args:
        tasks: the parsed JSON (a list of task objects).

    Returns:
        The usable annotations, and how many annotations were passed over (cancelled, or with
        no choice).

    Raises:
        InvalidArgumentError: not a list of tasks, a task without an integer
            ``data.labline_id``, or an annotation choosing several classes; the message names
            the place (``tasks[3].annotations[0]...``).
    """
    if not isinstance(tasks, list):
        raise InvalidArgumentError("a Label Studio export is a JSON list of tasks")
    found: list[LabelStudioAnnotation] = []
    passed = 0
    for t, task in enumerate(tasks):
        at = f"tasks[{t}]"
        if not isinstance(task, Mapping):
            raise InvalidArgumentError(f"{at} must be an object")
        data = task.get("data")
        item_id = data.get("labline_id") if isinstance(data, Mapping) else None
        if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id < 1:
            raise InvalidArgumentError(f"{at}.data.labline_id must be a positive integer")
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            raise InvalidArgumentError(f"{at}.annotations must be a list")
        for a, ann in enumerate(annotations):
            where = f"{at}.annotations[{a}]"
            if not isinstance(ann, Mapping):
                raise InvalidArgumentError(f"{where} must be an object")
            if ann.get("was_cancelled"):
                passed += 1
                continue
            results = ann.get("result") or []
            if not isinstance(results, list):
                raise InvalidArgumentError(f"{where}.result must be a list")
            chosen: list[str] = []
            for r, res in enumerate(results):
                if not isinstance(res, Mapping) or res.get("type") != "choices":
                    continue
                value = res.get("value")
                choices = value.get("choices") if isinstance(value, Mapping) else None
                if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                    raise InvalidArgumentError(
                        f"{where}.result[{r}].value.choices must be a list of strings"
                    )
                chosen.extend(choices)
            if not chosen:
                passed += 1
                continue
            if len(set(chosen)) > 1:
                raise InvalidArgumentError(f"{where} chose several classes; one is expected")
            choice = chosen[0]
            reject = choice == REJECT_CHOICE
            found.append(
                LabelStudioAnnotation(
                    item_id=item_id,
                    annotator=_annotator(ann),
                    kind="reject" if reject else "label",
                    choice=None if reject else choice,
                    annotation_id=ann.get("id"),
                    task_id=task.get("id"),
                )
            )
    return found, passed
