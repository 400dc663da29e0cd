"""Metrics that can be recomputed under example weights, many resamples at once.

A resample of a test set (bootstrap draw, or a permutation that swaps two models' outputs on
some examples) is represented by a weight per example: how many times the example appears.
Every metric here is written as ``evaluate(rows, weights) -> values`` where ``rows`` is a
``(m, k)`` float matrix of per-example encodings and ``weights`` a ``(b, m)`` matrix, one row
per resample. That lets identical examples be merged into one row with a count (accuracy on
100,000 examples has at most four distinct (correct_a, correct_b) rows), and it lets one call
score a whole block of resamples with matrix products instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError

__all__ = ["METRIC_NAMES", "Metric", "get_metric"]

FloatArray = npt.NDArray[np.float64]

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    """A metric recomputable under example weights.

    Attributes:
        name: canonical name (``accuracy``, ``macro_f1``, ``auc``, ``log_loss``, ``mae``, ...).
        higher_is_better: direction of improvement.
        needs_proba: whether the metric reads class probabilities rather than labels.
        kind: ``classification`` (labels are coded as class indices) or ``regression``.
        per_example: the metric is the weighted mean of ``rows[:, 0]`` (accuracy, log-loss, MAE,
            MSE); such metrics get exact permutation tests for any size and McNemar for accuracy.
        encode: ``(y_true, y_pred, proba) -> (n, k)`` per-example encoding; classification
            labels arrive as integer class indices, ``proba`` as ``(n, n_classes)`` or ``None``.
        evaluate: ``(rows (m, k), weights (b, m)) -> (b,)`` metric under each weight row.
    """

    name: str
    higher_is_better: bool
    needs_proba: bool
    kind: str
    per_example: bool
    encode: Callable[
        [npt.NDArray[np.generic], npt.NDArray[np.generic], FloatArray | None], FloatArray
    ]
    evaluate: Callable[[FloatArray, FloatArray], FloatArray]

    def point(self, rows: FloatArray) -> float:
        """The metric on the unweighted rows (each row counted once)."""
        return float(self.evaluate(rows, np.ones((1, rows.shape[0])))[0])


def _weighted_mean_first_column(rows: FloatArray, weights: FloatArray) -> FloatArray:
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((weights @ rows[:, 0]) / total, dtype=np.float64)


def _encode_correct(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    correct: FloatArray = (y_true == y_pred).astype(np.float64)
    return correct[:, None]


def _encode_labels(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return np.column_stack([y_true, y_pred]).astype(np.float64)


def _macro_f1(rows: FloatArray, weights: FloatArray) -> FloatArray:
    # F1_k = 2 TP_k / (n_pred_k + n_true_k), averaged over the classes present in the resample
    # (in y_true or y_pred), as scikit-learn's f1_score(average="macro") does.
    y = rows[:, 0].astype(np.int64)
    p = rows[:, 1].astype(np.int64)
    n_classes = int(max(y.max(initial=0), p.max(initial=0))) + 1
    eye = np.eye(n_classes)
    true_k = weights @ eye[y]
    pred_k = weights @ eye[p]
    tp_k = weights @ (eye[y] * (y == p)[:, None])
    support = true_k + pred_k
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2.0 * tp_k / np.where(present, support, 1.0), 0.0)
    n_present = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(f1.sum(axis=1) / n_present, dtype=np.float64)


def _encode_proba_for_auc(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    if proba is None:
        raise InvalidArgumentError("metric 'auc' needs probabilities (proba) for every run")
    scores = proba[:, 1:2] if proba.shape[1] == 2 else proba
    return np.column_stack([y_true.astype(np.float64), scores])


def _weighted_binary_auc(
    positive: npt.NDArray[np.bool_], score: FloatArray, weights: FloatArray
) -> FloatArray:
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = np.take(weights, order, axis=1)  # several times faster than weights[:, order]
    pos = positive[order]
    pos_by_score = w * pos
    neg_by_score = w - pos_by_score
    if starts.size < score.size:  # tied scores: one group per distinct score
        pos_by_score = np.add.reduceat(pos_by_score, starts, axis=1)
        neg_by_score = np.add.reduceat(neg_by_score, starts, axis=1)
    neg_below = np.cumsum(neg_by_score, axis=1) - neg_by_score
    # ties between a positive and a negative count one half, as in the Mann-Whitney U statistic
    numerator = (pos_by_score * (neg_below + 0.5 * neg_by_score)).sum(axis=1)
    denominator = pos_by_score.sum(axis=1) * neg_by_score.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            np.where(denominator > 0, numerator / denominator, np.nan), dtype=np.float64
        )


def _auc(rows: FloatArray, weights: FloatArray) -> FloatArray:
    y = rows[:, 0].astype(np.int64)
    if rows.shape[1] == 2:  # binary: one score column, the positive class's probability
        return _weighted_binary_auc(y == 1, rows[:, 1], weights)
    # multi-class: one-vs-rest, macro average (scikit-learn's multi_class="ovr")
    per_class = [
        _weighted_binary_auc(y == k, rows[:, 1 + k], weights) for k in range(rows.shape[1] - 1)
    ]
    return np.asarray(np.mean(per_class, axis=0), dtype=np.float64)


def _encode_log_loss(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    if proba is None:
        raise InvalidArgumentError("metric 'log_loss' needs probabilities (proba) for every run")
    p_true = proba[np.arange(proba.shape[0]), y_true.astype(np.int64)]
    return (-np.log(np.clip(p_true, _EPS, 1.0)))[:, None]


def _encode_abs_error(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return np.abs(y_true.astype(np.float64) - y_pred.astype(np.float64))[:, None]


def _encode_squared_error(
    y_true: npt.NDArray[np.generic], y_pred: npt.NDArray[np.generic], proba: FloatArray | None
) -> FloatArray:
    return ((y_true.astype(np.float64) - y_pred.astype(np.float64)) ** 2)[:, None]


def _rmse(rows: FloatArray, weights: FloatArray) -> FloatArray:
    return np.sqrt(_weighted_mean_first_column(rows, weights))


_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "accuracy",
            True,
            False,
            "classification",
            True,
            _encode_correct,
            _weighted_mean_first_column,
        ),
        Metric("macro_f1", True, False, "classification", False, _encode_labels, _macro_f1),
        Metric("auc", True, True, "classification", False, _encode_proba_for_auc, _auc),
        Metric(
            "log_loss",
            False,
            True,
            "classification",
            True,
            _encode_log_loss,
            _weighted_mean_first_column,
        ),
        Metric(
            "mae", False, False, "regression", True, _encode_abs_error, _weighted_mean_first_column
        ),
        Metric(
            "mse",
            False,
            False,
            "regression",
            True,
            _encode_squared_error,
            _weighted_mean_first_column,
        ),
        Metric("rmse", False, False, "regression", False, _encode_squared_error, _rmse),
    )
}
_ALIASES = {"acc": "accuracy", "f1_macro": "macro_f1", "roc_auc": "auc", "logloss": "log_loss"}

METRIC_NAMES: tuple[str, ...] = tuple(sorted(_METRICS))


def get_metric(name: str) -> Metric:
    """Look up a metric by name (``accuracy``, ``macro_f1``, ``auc``, ``log_loss``, ``mae``, ``mse``, ``rmse``).

    Args:
        name: metric name; a few aliases are accepted (``roc_auc``, ``f1_macro``, ``acc``).

    Returns:
        The :class:`Metric`.

    Raises:
        InvalidArgumentError: the name is not a known metric.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"metric must be a name, one of: {', '.join(METRIC_NAMES)}")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    try:
        return _METRICS[key]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown metric {name!r}; choose one of: {', '.join(METRIC_NAMES)}"
        ) from None
