"""The predictions file format, in one place: how per-example results become Parquet bytes
and how those bytes become arrays again.

A predictions file is a Parquet table sorted by ``id`` with columns ``id`` (int64 or string),
``y_true``, ``y_pred`` and, when probabilities were logged, ``proba`` (a fixed-size list of
float64, one entry per class). Alongside it the record keeps ``ids_digest``: the SHA-256 of
the sorted ids (little-endian int64 bytes, or the strings joined by NUL), so two files can be
known to cover the same examples without reading them.

It also owns the rules predictions must satisfy before they are stored (probability rows
that hold NaN or do not sum to 1 are refused; a predicted label that is often not the most
probable class gets a warning).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import InvalidArgumentError
from ._hashing import sha256_bytes

__all__ = [
    "ARGMAX_DISAGREEMENT_WARNING",
    "PROBA_SUM_TOLERANCE",
    "EncodedPredictions",
    "PredictionArrays",
    "argmax_disagreement",
    "check_probabilities",
    "decode_predictions",
    "encode_predictions",
]

#: Largest accepted ``|sum of a probability row - 1|`` (float32 softmax over thousands of
#: classes stays well within it).
PROBA_SUM_TOLERANCE = 1e-4

#: Share of examples whose ``y_pred`` is not the most probable class above which a warning is
#: given.
ARGMAX_DISAGREEMENT_WARNING = 0.01


def check_probabilities(proba: npt.NDArray[np.float64]) -> None:
    """Refuse probability rows that are NaN, outside [0, 1], or do not sum to 1.

    Args:
        proba: ``(n_examples, n_classes)`` class probabilities.

    Raises:
        InvalidArgumentError: naming the first offending row (by position) and, for sums, the
            tolerance.
    """
    finite = np.isfinite(proba)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        kind = "NaN" if np.isnan(proba[row]).any() else "an infinite value"
        raise InvalidArgumentError(
            f"y_proba contains {kind} (row {row}, {int((~finite).any(axis=1).sum())} rows in all); "
            "probabilities must be finite"
        )
    outside = (proba < 0) | (proba > 1)
    if outside.any():
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        raise InvalidArgumentError(
            f"y_proba has values outside [0, 1] (row {row}, "
            f"{int(outside.any(axis=1).sum())} rows in all)"
        )
    off = np.abs(proba.sum(axis=1) - 1.0)
    bad = off > PROBA_SUM_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidArgumentError(
            f"y_proba rows must sum to 1 (within ±{PROBA_SUM_TOLERANCE:g}): row {row} sums to "
            f"{float(proba[row].sum()):.6g} ({int(bad.sum())} rows in all)"
        )


def argmax_disagreement(
    y_pred: npt.NDArray[Any], proba: npt.NDArray[np.float64], classes: Sequence[Any]
) -> float | None:
    """Share of examples whose ``y_pred`` is not the most probable class of ``y_proba``.

    ``y_pred`` may hold class labels (those in ``classes``) or column indices ``0..k-1``.

    Returns:
        The share in [0, 1], or ``None`` when ``y_pred`` is neither (regression, other labels).
    """
    if y_pred.shape[0] == 0 or y_pred.ndim != 1:
        return None
    labels = np.asarray(list(classes), dtype=object)
    top = proba.argmax(axis=1)
    predicted = y_pred.astype(object)
    if np.isin(predicted, labels).all():
        return float(np.mean(predicted != labels[top]))
    if y_pred.dtype.kind in "iu" and y_pred.min() >= 0 and y_pred.max() < proba.shape[1]:
        return float(np.mean(y_pred != top))
    return None


@dataclass(frozen=True, eq=False)
class PredictionArrays:
    """Per-example predictions sorted by id, as numpy arrays (``proba``: ``(n, n_classes)``)."""

    ids: npt.NDArray[Any]
    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    proba: npt.NDArray[np.float64] | None


@dataclass(frozen=True, eq=False)
class EncodedPredictions:
    """A predictions file ready to store, with what its record needs.

    Attributes:
        data: the Parquet bytes.
        ids_digest: SHA-256 of the sorted ids (see the module docstring).
        classes: the class labels of the ``proba`` columns, or ``None`` without probabilities.
        arrays: the sorted columns that were written (to fingerprint the labels from them).
    """

    data: bytes
    ids_digest: str
    classes: tuple[Any, ...] | None
    arrays: PredictionArrays

    @property
    def n_rows(self) -> int:
        """How many examples the file holds."""
        return int(self.arrays.ids.shape[0])


def encode_predictions(
    ids: Iterable[Any],
    y_true: Iterable[Any],
    y_pred: Iterable[Any],
    y_proba: Any = None,
    *,
    classes: Iterable[Any] | None = None,
    label: str = "predictions",
) -> EncodedPredictions:
    """Sort the examples by id, check them and write the Parquet file.

    Args:
        ids: one unique id per example (integers or strings).
        y_true, y_pred: labels or values, one per example.
        y_proba: optional ``(n, n_classes)`` class probabilities.
        classes: the class labels of ``y_proba``'s columns (default ``0..n_classes-1``).
        label: how warnings name these predictions (e.g. ``log_predictions('test')``).

    Raises:
        InvalidArgumentError: lengths differ, ids repeat, ``y_proba`` has the wrong shape,
            holds NaN or values outside [0, 1], or a row does not sum to 1 within
            ``PROBA_SUM_TOLERANCE``.

    Warns:
        UserWarning: ``y_pred`` is not the most probable class of ``y_proba`` on more than
            ``ARGMAX_DISAGREEMENT_WARNING`` of the examples.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    id_arr = np.asarray(list(ids) if not hasattr(ids, "__array__") else ids)
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    n = len(id_arr)
    if id_arr.ndim != 1 or yt.shape[:1] != (n,) or yp.shape[:1] != (n,):
        raise InvalidArgumentError(
            "ids, y_true and y_pred must have one entry per example: "
            f"got {id_arr.shape}, {yt.shape}, {yp.shape}"
        )
    if id_arr.dtype.kind not in "iu":
        id_arr = id_arr.astype(str)
    order = np.argsort(id_arr, kind="stable")
    sorted_ids = id_arr[order]
    if n > 1 and bool(np.any(sorted_ids[1:] == sorted_ids[:-1])):
        dup = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]][0]
        raise InvalidArgumentError(f"example id {dup!r} appears more than once in ids")
    integer_ids = sorted_ids.dtype.kind in "iu"
    cols: dict[str, Any] = {
        "id": pa.array(sorted_ids.astype(np.int64) if integer_ids else sorted_ids.tolist()),
        "y_true": pa.array(yt[order]),
        "y_pred": pa.array(yp[order]),
    }
    class_list: tuple[Any, ...] | None = None
    sorted_proba = None
    if y_proba is not None:
        proba = np.asarray(y_proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[0] != n:
            raise InvalidArgumentError(
                f"y_proba must have shape (n_examples, n_classes), got {proba.shape}"
            )
        k = proba.shape[1]
        class_list = (
            tuple(range(k))
            if classes is None
            else tuple(c.item() if hasattr(c, "item") else c for c in classes)
        )
        if len(class_list) != k:
            raise InvalidArgumentError(
                f"classes has {len(class_list)} labels but y_proba has {k} columns"
            )
        check_probabilities(proba)
        share = argmax_disagreement(yp, proba, class_list)
        if share is not None and share > ARGMAX_DISAGREEMENT_WARNING:
            warnings.warn(
                f"{label}: y_pred is not the most probable class of "
                f"y_proba on {share:.1%} of the examples (more than "
                f"{ARGMAX_DISAGREEMENT_WARNING:.0%}); check that the columns of y_proba "
                "follow `classes`",
                UserWarning,
                stacklevel=3,
            )
        sorted_proba = np.ascontiguousarray(proba[order])
        cols["proba"] = pa.FixedSizeListArray.from_arrays(pa.array(sorted_proba.ravel()), k)
    ids_digest = sha256_bytes(
        sorted_ids.astype("<i8").tobytes()
        if integer_ids
        else "\0".join(sorted_ids.tolist()).encode()
    )
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf, compression="zstd")
    return EncodedPredictions(
        data=buf.getvalue(),
        ids_digest=ids_digest,
        classes=class_list,
        arrays=PredictionArrays(sorted_ids, yt[order], yp[order], sorted_proba),
    )


def read_table(data: bytes) -> Any:
    """The Parquet bytes of a predictions file as a ``pyarrow.Table``."""
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def decode_predictions(data: bytes) -> PredictionArrays:
    """The Parquet bytes of a predictions file as numpy arrays."""
    table = read_table(data)
    proba = None
    if "proba" in table.column_names:
        col = table.column("proba").combine_chunks()
        flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        proba = flat.reshape(table.num_rows, -1)
    return PredictionArrays(
        ids=table.column("id").to_numpy(zero_copy_only=False),
        y_true=table.column("y_true").to_numpy(zero_copy_only=False),
        y_pred=table.column("y_pred").to_numpy(zero_copy_only=False),
        proba=proba,
    )
