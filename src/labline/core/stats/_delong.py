"""DeLong's test for two correlated AUCs, with the fast algorithm of Sun & Xu (2014).

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of paired AUCs from their
structural components: for a positive example ``x_i``, ``V10(x_i)`` is the share of negatives it
outranks (ties count one half); for a negative ``y_j``, ``V01(y_j)`` is the share of positives
that outrank it. Computed pair by pair that is O(m n). Sun & Xu (2014, IEEE Signal Processing
Letters 21(11)) obtain the same components from three midrankings, O(n log n):

    V10(x_i) = (T_z(x_i) - T_x(x_i)) / n        V01(y_j) = 1 - (T_z(y_j) - T_y(y_j)) / m

with ``T_z`` the midrank among all examples, ``T_x`` among the positives, ``T_y`` among the
negatives (``m`` positives, ``n`` negatives).

The test depends on the scores only through their ranks, so it is invariant to any monotone
transform of either model's scores: calibration does not enter it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from ._data import EncodedGroups
from ._metrics import FloatArray

__all__ = ["DeLongResult", "delong_from_encoded", "delong_test"]


@dataclass(frozen=True)
class DeLongResult:
    """DeLong's test of ``AUC(candidate) - AUC(baseline) == 0``.

    Attributes:
        baseline_auc, candidate_auc: the two AUCs (macro one-vs-rest for several classes).
        difference: ``candidate_auc - baseline_auc``.
        standard_error: DeLong's standard error of the difference.
        z: ``difference / standard_error``.
        p_value: two-sided p-value from the normal distribution.
    """

    baseline_auc: float
    candidate_auc: float
    difference: float
    standard_error: float
    z: float
    p_value: float


def _midranks(values: FloatArray) -> FloatArray:
    """Midranks (1-based, ties averaged) along the last axis; one sort per row."""
    order = np.argsort(values, axis=-1, kind="mergesort")
    ordered = np.take_along_axis(values, order, axis=-1)
    n = values.shape[-1]
    # each run of equal values gets the mean of the ordinal ranks it spans
    boundary = np.ones(ordered.shape, dtype=bool)
    boundary[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    ranks = np.empty(values.shape, dtype=np.float64)
    for row in np.ndindex(values.shape[:-1]):
        starts = np.flatnonzero(boundary[row])
        ends = np.r_[starts[1:], n]
        mid = (starts + ends + 1) / 2.0  # mean of starts+1 .. ends
        ranks[row][order[row]] = np.repeat(mid, ends - starts)
    return ranks


def _structural_components(
    positive: npt.NDArray[np.bool_], scores: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """AUCs, ``V10`` (models, m) and ``V01`` (models, n) of each row of ``scores`` (models, N)."""
    x, y = scores[:, positive], scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    t_z = _midranks(np.concatenate([x, y], axis=1))
    t_x, t_y = _midranks(x), _midranks(y)
    v10 = (t_z[:, :m] - t_x) / n
    v01 = 1.0 - (t_z[:, m:] - t_y) / m
    return v10.mean(axis=1), v10, v01


def _p_from_z(difference: float, variance: float) -> tuple[float, float, float]:
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    if not variance > 0:  # identical rankings: no variability left to test against
        return (
            0.0,
            (0.0 if difference == 0 else math.copysign(math.inf, difference)),
            (1.0 if difference == 0 else 0.0),
        )
    se = math.sqrt(variance)
    z = difference / se
    return se, z, float(min(1.0, 2.0 * sps.norm.sf(abs(z))))


def delong_test(
    y_true: npt.ArrayLike, baseline: npt.ArrayLike, candidate: npt.ArrayLike
) -> DeLongResult:
    """DeLong's test for the difference of two paired AUCs (binary labels).

    Args:
        y_true: binary labels (1 or ``True`` is the positive class).
        baseline: the baseline model's score for each example (any monotone scale).
        candidate: the candidate model's score for each example.

    Returns:
        The :class:`DeLongResult`.

    Raises:
        InvalidArgumentError: shapes disagree, or a class is missing (AUC undefined).

    Example:
        >>> r = delong_test([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.7], [0.2, 0.3, 0.6, 0.9, 0.1, 0.5])
        >>> round(r.difference, 4)
        0.1111
    """
    y = np.asarray(y_true)
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if y.ndim != 1 or a.shape != y.shape or b.shape != y.shape:
        raise InvalidArgumentError("y_true, baseline and candidate must be 1-D of one length")
    positive = y.astype(bool)
    m = int(positive.sum())
    n = int(positive.size - m)
    if m < 2 or n < 2:
        raise InvalidArgumentError("DeLong's test needs at least two examples of each class")
    aucs, v10, v01 = _structural_components(positive, np.vstack([a, b]))
    s10 = np.cov(v10)
    s01 = np.cov(v01)
    cov = s10 / m + s01 / n
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    difference = float(aucs[1] - aucs[0])
    se, z, p = _p_from_z(difference, variance)
    return DeLongResult(float(aucs[0]), float(aucs[1]), difference, se, z, p)


def _macro_ovr(y: npt.NDArray[np.int64], base: FloatArray, cand: FloatArray) -> DeLongResult:
    """DeLong-type test of the macro one-vs-rest AUC difference (several classes).

    Each class's AUC is a two-sample U-statistic; its first-order (influence) term for example
    ``i`` is ``(V10_k(i) - AUC_k) / m_k`` when ``i`` is of class ``k`` and
    ``(V01_k(i) - AUC_k) / n_k`` otherwise. The macro difference's influence is the mean over
    classes of the candidate-minus-baseline terms, and its variance the sum of their squares
    (times ``N / (N - 1)``): the classes share examples, so their covariances are kept.
    """
    n_examples = y.size
    influence = np.zeros(n_examples)
    differences = []
    aucs = np.zeros(2)
    classes = base.shape[1]
    for k in range(classes):
        positive = y == k
        m, n = int(positive.sum()), int(n_examples - positive.sum())
        if m < 2 or n < 2:
            raise InvalidArgumentError(
                "DeLong's test needs at least two examples in and out of every class"
            )
        auc_k, v10, v01 = _structural_components(positive, np.vstack([base[:, k], cand[:, k]]))
        aucs += auc_k / classes
        differences.append(auc_k[1] - auc_k[0])
        term = np.empty(n_examples)
        term[positive] = ((v10[1] - v10[0]) - (auc_k[1] - auc_k[0])) / m
        term[~positive] = ((v01[1] - v01[0]) - (auc_k[1] - auc_k[0])) / n
        influence += term / classes
    variance = float((influence**2).sum() * n_examples / (n_examples - 1))
    difference = float(np.mean(differences))
    se, z, p = _p_from_z(difference, variance)
    return DeLongResult(float(aucs[0]), float(aucs[1]), difference, se, z, p)


def delong_from_encoded(data: EncodedGroups) -> DeLongResult:
    """DeLong's test for one baseline and one candidate run encoded for ``auc``.

    Binary labels get DeLong's test exactly; several classes get the macro one-vs-rest AUC
    (as :func:`labline.core.stats.get_metric` ``("auc")`` computes it) with the covariance of its
    per-class structural components.

    Raises:
        InvalidArgumentError: the metric is not AUC, a group holds more than one run, or a
            class has fewer than two examples in or out of it.
    """
    if data.metric.name != "auc":
        raise InvalidArgumentError("DeLong's test applies to auc only")
    if len(data.baseline_columns) != 1 or len(data.candidate_columns) != 1:
        raise InvalidArgumentError("DeLong's test compares exactly one run with one run")
    rows = np.repeat(data.rows, data.counts, axis=0)
    y = rows[:, 0].astype(np.int64)
    base = rows[:, data.baseline_columns[0]][:, 1:]
    cand = rows[:, data.candidate_columns[0]][:, 1:]
    if base.shape[1] == 1:
        return delong_test(y == 1, base[:, 0], cand[:, 0])
    return _macro_ovr(y, base, cand)
