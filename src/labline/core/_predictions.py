"""The rules per-example predictions must satisfy before they are stored (one owner).

Probabilities are the input of AUC, log-loss and calibration; a row that sums to 1.8 or holds a
NaN silently corrupts all of them, so such rows are refused. A predicted label that is not the
most probable class is legitimate now and then (a tuned threshold, ties), but on many examples
it usually means the columns of ``y_proba`` are in another class order than assumed: that gets
a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import InvalidArgumentError

__all__ = [
    "ARGMAX_DISAGREEMENT_WARNING",
    "PROBA_SUM_TOLERANCE",
    "argmax_disagreement",
    "check_probabilities",
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
