"""A summary of per-example predictions for a reader: confusion matrix, per-class metrics and
the worst examples. Pure numpy over :class:`~labline.core._predictions.PredictionArrays`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._exceptions import InvalidArgumentError
from ._predictions import PredictionArrays
from ._types import ClassMetrics, PredictionsSummary, WorstExample

__all__ = ["MAX_SUMMARY_CLASSES", "summarize_predictions"]

MAX_SUMMARY_CLASSES = 50
"""Classes shown one by one; the least frequent beyond these are folded into ``other``."""

OTHER = "other"


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def summarize_predictions(
    run_id: str,
    dataset: str,
    arrays: PredictionArrays,
    classes: Sequence[Any] | None,
    worst: int = 20,
) -> PredictionsSummary:
    """Confusion matrix, per-class precision/recall/F1 and the ``worst`` examples.

    Args:
        run_id, dataset: whose predictions (carried into the summary).
        arrays: the decoded predictions.
        classes: the labels of the ``proba`` columns (``None`` without probabilities).
        worst: how many of the worst examples to keep (0 to 1000).

    Returns:
        A :class:`PredictionsSummary`. The worst examples are those with the lowest
        probability of their true class when probabilities were logged, otherwise the
        misclassified ones in id order.

    Raises:
        InvalidArgumentError: ``worst`` out of range.
    """
    if isinstance(worst, bool) or not isinstance(worst, int) or not 0 <= worst <= 1000:
        raise InvalidArgumentError(f"worst must be an integer from 0 to 1000, got {worst!r}")
    y_true = np.asarray([str(v) for v in arrays.y_true], dtype=object)
    y_pred = np.asarray([str(v) for v in arrays.y_pred], dtype=object)
    n = int(y_true.size)
    seen, counts = np.unique(np.concatenate([y_true, y_pred]), return_counts=True)
    labels = [str(v) for v in seen]
    if len(labels) > MAX_SUMMARY_CLASSES:
        keep = {str(v) for v in seen[np.argsort(-counts, kind="stable")][: MAX_SUMMARY_CLASSES - 1]}
        labels = [*sorted(keep), OTHER]
        y_true = np.asarray([v if v in keep else OTHER for v in y_true], dtype=object)
        y_pred = np.asarray([v if v in keep else OTHER for v in y_pred], dtype=object)
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    t = np.fromiter((index[v] for v in y_true), dtype=np.int64, count=n)
    p = np.fromiter((index[v] for v in y_pred), dtype=np.int64, count=n)
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k) if k else np.zeros((0, 0))
    per_class = []
    for i, label in enumerate(labels):
        tp = float(confusion[i, i])
        precision = _ratio(tp, float(confusion[:, i].sum()))
        recall = _ratio(tp, float(confusion[i, :].sum()))
        f1 = (
            _ratio(2 * precision * recall, precision + recall)
            if np.isfinite(precision) and np.isfinite(recall)
            else float("nan")
        )
        per_class.append(ClassMetrics(label, precision, recall, f1, int(confusion[i, :].sum())))
    worst_rows: list[WorstExample] = []
    if worst and n:
        ids = arrays.ids
        if arrays.proba is not None and classes is not None:
            column = {str(c): j for j, c in enumerate(classes)}
            cols = np.fromiter(
                (column.get(str(v), -1) for v in arrays.y_true), dtype=np.int64, count=n
            )
            p_true = np.where(cols >= 0, arrays.proba[np.arange(n), np.maximum(cols, 0)], np.nan)
            order = np.argsort(np.nan_to_num(p_true, nan=-1.0), kind="stable")[:worst]
            worst_rows = [
                WorstExample(
                    str(ids[i]),
                    str(arrays.y_true[i]),
                    str(arrays.y_pred[i]),
                    None if np.isnan(p_true[i]) else float(p_true[i]),
                )
                for i in order
            ]
        else:
            wrong = np.flatnonzero(t != p)[:worst]
            worst_rows = [
                WorstExample(str(ids[i]), str(arrays.y_true[i]), str(arrays.y_pred[i]), None)
                for i in wrong
            ]
    return PredictionsSummary(
        run_id=run_id,
        dataset=dataset,
        n_rows=n,
        accuracy=_ratio(float(np.sum(t == p)), n),
        labels=tuple(labels),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        per_class=tuple(per_class),
        worst=tuple(worst_rows),
    )
