"""Drift between a reference profile and a window of live traffic, and accuracy without labels.

Per feature:

* numeric features: the two-sample Kolmogorov–Smirnov test. The statistic is the largest gap
  between the reference's empirical CDF (exact when the reference kept all its values, else
  from its quantile sketch, within ``1 / (2m)``) and the window's; the p-value is the
  asymptotic two-sided one, as ``scipy.stats.ks_2samp(..., method="asymp")`` computes it, with
  the reference's true size;
* categorical features (and numbers with at most 5 distinct reference values): Pearson's
  chi-squared test of the 2 × k table of reference and live counts (as
  ``scipy.stats.chi2_contingency(table, correction=False)``);
* p-values corrected across features with Holm's step-down method (family-wise error at
  ``alpha``; Bonferroni is stricter than needed, uncorrected per-column tests are not
  corrected at all); a feature *drifted* when its adjusted p-value is below ``alpha``;
* for display: the population stability index and the Jensen–Shannon distance (base 2, as
  ``scipy.spatial.distance.jensenshannon(p, q, base=2)``) on the reference's decile bins or
  categories.

The predictions and the confidence are tested the same way (outside the Holm family).

**Estimated accuracy without labels** (the idea behind NannyML's CBPE): for a calibrated
classifier the probability a prediction is right is the probability the model gave it, so the
expected accuracy of a window is its mean confidence, with a normal interval from the variance
of the sum of those Bernoulli outcomes. The assumption: the relation between inputs and labels
has not changed (covariate shift only, no concept drift), and the model is calibrated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError
from .._profile import (
    CategoricalSketch,
    NumericSketch,
    ReferenceProfile,
    Sketch,
    category_key,
    confidence_of,
    missing_mask,
)
from ._classical import holm_bonferroni

__all__ = [
    "AccuracyEstimate",
    "DriftReport",
    "FeatureDrift",
    "chi2_two_sample",
    "drift_report",
    "estimate_accuracy",
    "feature_drift",
    "jensen_shannon_distance",
    "ks_two_sample",
    "population_stability_index",
]

FloatArray = npt.NDArray[np.float64]
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    """One feature (or the predictions, or the confidence) tested for drift.

    Attributes:
        feature: its name.
        test: ``"ks"`` or ``"chi2"``.
        statistic: the KS distance, or the chi-squared statistic.
        p_value: the test's p-value.
        adjusted_p_value: after Holm across the input features (= ``p_value`` for outputs).
        drifted: ``adjusted_p_value < alpha``.
        psi: population stability index (display only).
        js_distance: Jensen–Shannon distance, base 2, in [0, 1] (display only).
        n_live: live values tested.
        reference_center: reference mean (numeric) or most frequent category.
        live_center: the same for the window.
    """

    feature: str
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    adjusted_p_value: float
    drifted: bool
    psi: float
    js_distance: float
    n_live: int
    reference_center: float | str | None
    live_center: float | str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this result."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class AccuracyEstimate:
    """Accuracy estimated from confidences (no labels), with a 95% normal interval.

    Attributes:
        value: mean confidence of the window.
        ci_low: lower end of the interval.
        ci_high: upper end.
        n: rows.
        reference: the mean confidence on the reference data (what was expected at packaging).
        reference_accuracy: the measured reference accuracy, when labels were given then.
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    reference: float | None
    reference_accuracy: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this estimate."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class DriftReport:
    """A live window against the reference profile.

    Attributes:
        n_reference: rows of the reference profile.
        n_live: rows of the window.
        alpha: family-wise error level of the Holm correction.
        features: per input feature, in schema order.
        drifted_share: share of tested features that drifted (0 when none was tested).
        predictions: prediction drift.
        confidence: confidence drift.
        accuracy: estimated accuracy (calibrated classifiers only).
    """

    n_reference: int
    n_live: int
    alpha: float
    features: tuple[FeatureDrift, ...]
    drifted_share: float
    predictions: FeatureDrift | None
    confidence: FeatureDrift | None
    accuracy: AccuracyEstimate | None

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the drifted features."""
        return tuple(f.feature for f in self.features if f.drifted)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this report."""
        return {
            "n_reference": self.n_reference,
            "n_live": self.n_live,
            "alpha": self.alpha,
            "drifted_share": self.drifted_share,
            "drifted": list(self.drifted),
            "features": [f.to_json() for f in self.features],
            "predictions": None if self.predictions is None else self.predictions.to_json(),
            "confidence": None if self.confidence is None else self.confidence.to_json(),
            "accuracy": None if self.accuracy is None else self.accuracy.to_json(),
        }


def _ks_distance(reference: NumericSketch, x: FloatArray) -> tuple[float, float]:
    """The KS distance between the reference and the sorted, NaN-free live values ``x``, and
    the effective sample size ``n m / (n + m)`` (both sides non-empty)."""
    n, m = reference.n, int(x.size)
    grid = np.concatenate([reference.points_array, x])
    ref_below, ref_at = reference.cdf_limits(grid)
    d = float(np.max(np.abs(ref_at - np.searchsorted(x, grid, side="right") / m)))
    if not reference.exact:
        # the sketch's CDF is linear between its points, so the largest gap is at a point of
        # either side, at it or just below it (the live CDF jumps there, and so does the
        # reference's where values are tied)
        live_below = np.searchsorted(x, grid, side="left") / m
        d = max(d, float(np.max(np.abs(ref_below - live_below))))
    return d, n * m / (n + m)


def _ks_p_values(d: FloatArray, en: FloatArray) -> FloatArray:
    """Two-sided asymptotic KS p-values, as ``scipy.stats.ks_2samp(method="asymp")`` computes
    them; one call for many features (scipy's per-call overhead dominates otherwise)."""
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    p: FloatArray = np.clip(np.asarray(sps.kstwo.sf(d, np.round(en)), dtype=np.float64), 0, 1)
    return p


def ks_two_sample(reference: NumericSketch, live: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample KS test of live values against a reference sketch.

    Returns:
        ``(statistic, two-sided asymptotic p-value)``; ``(0.0, 1.0)`` when either side is empty.
    """
    x = np.sort(np.asarray(live, dtype=np.float64))
    x = x[~np.isnan(x)]
    if reference.n == 0 or x.size == 0:
        return 0.0, 1.0
    d, en = _ks_distance(reference, x)
    return d, float(_ks_p_values(np.array([d]), np.array([en]))[0])


def chi2_two_sample(
    reference_counts: npt.ArrayLike, live_counts: npt.ArrayLike
) -> tuple[float, float]:
    """Pearson's chi-squared test that two count vectors come from one distribution.

    Categories empty on both sides are dropped; fewer than two left gives ``(0.0, 1.0)``.

    Returns:
        ``(statistic, p-value)`` of the 2 × k table without continuity correction.
    """
    from scipy import stats as sps  # lazy: keeps `import labline` fast

    table = np.vstack(
        [np.asarray(reference_counts, dtype=np.float64), np.asarray(live_counts, dtype=np.float64)]
    )
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or np.any(rows == 0):
        return 0.0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(sps.chi2.sf(stat, table.shape[1] - 1))


def _proportions(counts: npt.ArrayLike) -> FloatArray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


def population_stability_index(
    reference_counts: npt.ArrayLike, live_counts: npt.ArrayLike
) -> float:
    """PSI, ``sum((a - e) * ln(a / e))`` over bins, proportions floored at 1e-4."""
    e = np.maximum(_proportions(reference_counts), PSI_EPSILON)
    a = np.maximum(_proportions(live_counts), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon_distance(reference_counts: npt.ArrayLike, live_counts: npt.ArrayLike) -> float:
    """Jensen–Shannon distance (base 2; 0 = same distribution, 1 = disjoint)."""
    p, q = _proportions(reference_counts), _proportions(live_counts)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    mid = (p + q) / 2

    def kl(a: FloatArray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / mid[nz])))

    return float(math.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def _categorical_counts(reference: CategoricalSketch) -> FloatArray:
    return np.asarray([*reference.counts, reference.other], dtype=np.float64)


def _feature_drift(reference: Sketch, live: npt.ArrayLike) -> tuple[FeatureDrift, float | None]:
    """:func:`feature_drift` without the KS p-value of a numeric feature, which is left NaN
    and computed by the caller from the returned effective sample size (None: no KS test
    to do, the result is complete)."""
    values = np.asarray(live)
    ks_size: float | None = None
    if isinstance(reference, NumericSketch):
        if values.dtype.kind not in "iufb":
            raise InvalidArgumentError(f"feature {reference.name!r}: expected numbers")
        x = np.sort(values.astype(np.float64, copy=False))
        x = x[~np.isnan(x)]
        if reference.n == 0 or x.size == 0:
            stat, p = 0.0, 1.0
        else:
            stat, ks_size = _ks_distance(reference, x)
            p = math.nan
        ref_hist, live_hist = np.asarray(reference.counts), reference.histogram(x)
        ref_center: float | str | None = reference.mean
        live_center: float | str | None = float(x.mean()) if x.size else None
        test: Literal["ks", "chi2"] = "ks"
        n_live = int(x.size)
    else:
        missing = missing_mask(values)
        keys = category_key(values[~missing]) if values.size else np.empty(0, dtype=object)
        live_hist = reference.frequencies(keys)
        ref_hist = _categorical_counts(reference)
        stat, p = chi2_two_sample(ref_hist, live_hist)
        ref_center = reference.categories[0] if reference.categories else None
        top = int(np.argmax(live_hist)) if keys.size else -1
        live_center = (
            None
            if top < 0
            else (reference.categories[top] if top < len(reference.categories) else "(other)")
        )
        test = "chi2"
        n_live = int(keys.size)
    result = FeatureDrift(
        feature=reference.name,
        test=test,
        statistic=stat,
        p_value=p,
        adjusted_p_value=p,
        drifted=False,
        psi=population_stability_index(ref_hist, live_hist),
        js_distance=jensen_shannon_distance(ref_hist, live_hist),
        n_live=n_live,
        reference_center=ref_center,
        live_center=live_center,
    )
    return result, ks_size


def _tested(parts: list[tuple[FeatureDrift, float | None]]) -> list[FeatureDrift]:
    """Fill in the KS p-values of :func:`_feature_drift`'s results, in one scipy call."""
    pending = [i for i, (_, en) in enumerate(parts) if en is not None]
    out = [r for r, _ in parts]
    if pending:
        d = np.array([out[i].statistic for i in pending])
        en = np.array([parts[i][1] for i in pending], dtype=np.float64)
        for i, p in zip(pending, _ks_p_values(d, en).tolist(), strict=True):
            out[i] = FeatureDrift(**{**out[i].__dict__, "p_value": p, "adjusted_p_value": p})
    return out


def feature_drift(reference: Sketch, live: npt.ArrayLike) -> FeatureDrift:
    """Test one feature's live values against its reference sketch (no correction).

    Args:
        reference: the reference sketch (its kind chooses the test).
        live: the window's values.

    Returns:
        The result, with ``adjusted_p_value = p_value``.

    Raises:
        InvalidArgumentError: a numeric reference and values that are not numbers.
    """
    return _tested([_feature_drift(reference, live)])[0]


def estimate_accuracy(
    confidence: npt.ArrayLike,
    *,
    reference: float | None = None,
    reference_accuracy: float | None = None,
) -> AccuracyEstimate | None:
    """Expected accuracy of a calibrated classifier from its confidences (CBPE's idea).

    Args:
        confidence: per row, the probability the model gave to its prediction.
        reference: the mean confidence on the reference data.
        reference_accuracy: the measured reference accuracy, when known.

    Returns:
        The estimate with a 95% normal interval, or None for an empty window.
    """
    c = np.asarray(confidence, dtype=np.float64)
    c = c[np.isfinite(c)]
    if c.size == 0:
        return None
    value = float(c.mean())
    half = 1.959963984540054 * math.sqrt(float(np.sum(c * (1 - c)))) / c.size
    return AccuracyEstimate(
        value=value,
        ci_low=max(0.0, value - half),
        ci_high=min(1.0, value + half),
        n=int(c.size),
        reference=reference,
        reference_accuracy=reference_accuracy,
    )


def _with_adjusted(result: FeatureDrift, adjusted: float, alpha: float) -> FeatureDrift:
    return FeatureDrift(
        **{**result.__dict__, "adjusted_p_value": adjusted, "drifted": adjusted < alpha}
    )


def drift_report(
    reference: ReferenceProfile,
    features: Mapping[str, npt.ArrayLike],
    *,
    predictions: npt.ArrayLike | None = None,
    proba: npt.ArrayLike | None = None,
    classes: tuple[Any, ...] | None = None,
    confidence: npt.ArrayLike | None = None,
    alpha: float = 0.05,
) -> DriftReport:
    """Test a window of live traffic against the reference profile.

    Args:
        reference: the package's reference profile.
        features: the window's values per feature (as :func:`~labline.core._profile.feature_columns`
            names them); features the reference did not profile are ignored.
        predictions: the window's predictions.
        proba: the window's class probabilities (rows of ``predictions``).
        classes: the class labels (``proba`` column order).
        confidence: the probability each prediction got, instead of ``proba`` (the model
            server keeps only this; it may cover fewer rows than ``predictions``).
        alpha: family-wise error level of the Holm correction.

    Returns:
        The report.

    Raises:
        InvalidArgumentError: ``alpha`` outside (0, 1).
    """
    if not 0 < alpha < 1:
        raise InvalidArgumentError("alpha must be in (0, 1)")
    raw = _tested(
        [
            _feature_drift(sketch, features[sketch.name])
            for sketch in reference.features
            if sketch.name in features
        ]
    )
    tested = [r for r in raw if r.n_live > 0]
    adjusted = holm_bonferroni([r.p_value for r in tested]) if tested else np.empty(0)
    by_name = {
        r.feature: _with_adjusted(r, float(a), alpha) for r, a in zip(tested, adjusted, strict=True)
    }
    results = tuple(by_name.get(r.feature, r) for r in raw)
    drifted = sum(1 for r in results if r.drifted)
    n_live = max((r.n_live for r in raw), default=0)
    pred_drift: FeatureDrift | None = None
    conf_drift: FeatureDrift | None = None
    accuracy: AccuracyEstimate | None = None
    if predictions is not None:
        preds = np.asarray(predictions)
        n_live = max(n_live, int(preds.shape[0]))
        if reference.predictions is not None and preds.size:
            r = feature_drift(reference.predictions, preds)
            pred_drift = _with_adjusted(r, r.p_value, alpha)
        conf: npt.NDArray[np.float64] | None = None
        if confidence is not None:
            conf = np.asarray(confidence, dtype=np.float64)
        elif proba is not None and np.asarray(proba).size:
            conf = confidence_of(preds, np.asarray(proba), classes)
        if conf is not None and conf.size:
            if reference.confidence is not None:
                r = feature_drift(reference.confidence, conf)
                conf_drift = _with_adjusted(r, r.p_value, alpha)
            accuracy = estimate_accuracy(
                conf,
                reference=reference.expected_accuracy,
                reference_accuracy=reference.accuracy,
            )
    return DriftReport(
        n_reference=reference.n,
        n_live=n_live,
        alpha=alpha,
        features=results,
        drifted_share=drifted / len(tested) if tested else 0.0,
        predictions=pred_drift,
        confidence=conf_drift,
        accuracy=accuracy,
    )
