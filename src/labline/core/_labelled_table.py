"""The table form of a labelled dataset (one owner of its layout): ``labline_id``, the input
as feature columns, ``label``. Its fingerprint is the dataset version's fingerprint.

Feature columns: flat numeric inputs (or image grids) of one length n become ``x0..x{n-1}``
(float64); mappings become one column per key (first-seen order); strings become ``text``;
anything else one ``input`` column of JSON text. Labels keep their type when every label has
the same one (int, float, bool or str), else they are written as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from ._review import LabelledExample
from ._review_render import image_grid

__all__ = ["examples_table", "feature_columns"]


def _flat_numbers(inputs: Any) -> list[float] | None:
    grid = image_grid(inputs)
    if grid is not None:
        return [x for row in grid for x in row]
    if (
        isinstance(inputs, list)
        and inputs
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in inputs)
    ):
        return [float(x) for x in inputs]
    return None


def _features(inputs: Sequence[Any]) -> dict[str, pa.Array]:
    flats = [_flat_numbers(x) for x in inputs]
    if inputs and all(f is not None for f in flats) and len({len(f) for f in flats if f}) == 1:
        width = len(flats[0] or [])
        return {
            f"x{j}": pa.array([f[j] for f in flats if f is not None], type=pa.float64())
            for j in range(width)
        }
    if inputs and all(isinstance(x, Mapping) for x in inputs):
        keys = list(dict.fromkeys(k for x in inputs for k in x))
        columns: dict[str, pa.Array] = {}
        for k in keys:
            values = [x.get(k) for x in inputs]
            try:
                columns[str(k)] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                columns[str(k)] = pa.array([json.dumps(v, sort_keys=True) for v in values])
        return columns
    if inputs and all(isinstance(x, str) for x in inputs):
        return {"text": pa.array(list(inputs), type=pa.string())}
    return {"input": pa.array([json.dumps(x, sort_keys=True) for x in inputs], type=pa.string())}


def _labels(labels: Sequence[Any]) -> pa.Array:
    kinds = {type(v) for v in labels}
    if len(kinds) == 1 and kinds <= {int, float, bool, str}:
        return pa.array(list(labels))
    return pa.array([json.dumps(v) for v in labels], type=pa.string())


def examples_table(examples: Sequence[LabelledExample]) -> pa.Table:
    """The examples as a table: ``labline_id``, feature columns, ``label`` (see the module
    docstring). Rows are in item-id order, so the same examples give the same table."""
    ordered = sorted(examples, key=lambda e: e.item_id)
    columns: dict[str, pa.Array] = {
        "labline_id": pa.array([e.item_id for e in ordered], type=pa.int64())
    }
    for name, col in _features([e.inputs for e in ordered]).items():
        columns[name if name not in ("labline_id", "label") else f"input_{name}"] = col
    columns["label"] = _labels([e.label for e in ordered])
    return pa.table(columns)


def feature_columns(table: pa.Table) -> list[str]:
    """The feature columns of an examples table (every column but ``labline_id`` and
    ``label``)."""
    return [c for c in table.column_names if c not in ("labline_id", "label")]
