"""Reference profiles: a compact summary of a model's inputs and outputs that drift is tested
against.

A profile is built twice from the same code: once from the evaluation data when a model is
packaged (stored in the package as ``profile/reference.json``, covered by the manifest and
the package digest), and once from each sliding window of live traffic in the model server.

Each input column becomes one *feature* (a 1-D field is one feature named like the field; a
tensor field ``input`` of 64 columns gives ``input[0]`` ... ``input[63]``). A feature is:

* **numeric**: a quantile sketch (the sorted values themselves when there are at most
  :data:`SKETCH_POINTS`, otherwise that many quantiles at probabilities ``(i + 0.5) / m``, so
  the reference's empirical CDF is known within ``1 / (2m)``) and a 10-bin histogram on the
  reference deciles (for the PSI and Jensen–Shannon distance);
* **categorical**: strings, booleans, and numbers with at most :data:`CATEGORICAL_MAX_DISTINCT`
  distinct reference values; category frequencies of the :data:`MAX_CATEGORIES` most frequent
  values, the rest counted as ``other``.

The outputs are profiled the same way: the predictions (categorical for a classifier, numeric
for a regressor) and the *confidence*, the probability the model gave to the label it predicted.
The mean confidence on the reference is the accuracy a calibrated model expects there.
At most :data:`MAX_PROFILED_FEATURES` features are profiled (the first ones in schema order);
``skipped_features`` says how many were left out.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._exceptions import IntegrityError, InvalidArgumentError

__all__ = [
    "CATEGORICAL_MAX_DISTINCT",
    "MAX_CATEGORIES",
    "MAX_PROFILED_FEATURES",
    "PROFILE_FILE",
    "SKETCH_POINTS",
    "CategoricalSketch",
    "NumericSketch",
    "ReferenceProfile",
    "Sketch",
    "build_profile",
    "category_key",
    "confidence_of",
    "feature_columns",
    "missing_mask",
    "sketch_categorical",
    "sketch_numeric",
]

PROFILE_FILE = "profile/reference.json"
PROFILE_FORMAT = 1
SKETCH_POINTS = 512
CATEGORICAL_MAX_DISTINCT = 5
MAX_CATEGORIES = 20
MAX_PROFILED_FEATURES = 256
HISTOGRAM_BINS = 10
OTHER = "(other)"

FloatArray = npt.NDArray[np.float64]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class NumericSketch:
    """A numeric column summarized: quantile sketch and decile histogram.

    Attributes:
        name: the feature's name.
        n: values summarized (non-missing).
        missing: NaN values (not in ``n``).
        points: the sorted values (``exact``) or ``SKETCH_POINTS`` quantiles.
        exact: whether ``points`` are all the values.
        edges: inner histogram edges (the bins are ``(-inf, e0], (e0, e1], ..., (ek, inf)``).
        counts: values per bin (``len(edges) + 1`` bins).
        mean: mean of the values (``None`` when there are none).
        std: standard deviation (``None`` when there are none).
    """

    name: str
    n: int
    missing: int
    points: tuple[float, ...]
    exact: bool
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    mean: float | None
    std: float | None
    kind: Literal["numeric"] = "numeric"

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this sketch."""
        return {
            "kind": self.kind,
            "name": self.name,
            "n": self.n,
            "missing": self.missing,
            "points": list(self.points),
            "exact": self.exact,
            "edges": list(self.edges),
            "counts": list(self.counts),
            "mean": self.mean,
            "std": self.std,
        }

    @functools.cached_property
    def points_array(self) -> FloatArray:
        """``points`` as a float array, converted once (a drift test reads it several times
        per feature)."""
        return np.asarray(self.points, dtype=np.float64)

    @functools.cached_property
    def _edges_array(self) -> FloatArray:
        return np.asarray(self.edges, dtype=np.float64)

    def cdf(self, x: FloatArray) -> FloatArray:
        """The reference's CDF at ``x``: its empirical CDF when ``exact``, else the line
        through the sketch's quantiles (``(i + 0.5) / m`` at point ``i``), right-continuous
        where several quantiles are equal (a value most rows share is a jump, not a slope)."""
        return self.cdf_limits(x)[1]

    def cdf_limits(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The reference's CDF just below ``x`` and at ``x`` (they differ only at jumps).

        Returns:
            ``(left limits, values)``.
        """
        x = np.asarray(x, dtype=np.float64)
        pts = self.points_array
        m = pts.size
        if m == 0:
            zeros = np.zeros_like(x, dtype=np.float64)
            return zeros, zeros
        if self.exact:
            return (
                np.searchsorted(pts, x, side="left") / m,
                np.searchsorted(pts, x, side="right") / m,
            )
        probs = (np.arange(m) + 0.5) / m
        # tied quantiles: one distinct value, reached from below at its first quantile's
        # probability, left at its last one's
        distinct, first = np.unique(pts, return_index=True)
        last = np.append(first[1:] - 1, m - 1)
        enter, leave = probs[first], probs[last]
        k = np.searchsorted(distinct, x, side="right") - 1  # last distinct value <= x
        values = np.zeros_like(x, dtype=np.float64)
        beyond = k == distinct.size - 1
        values[beyond] = np.where(x[beyond] > distinct[-1], 1.0, leave[-1])
        inner = (k >= 0) & ~beyond
        ki = k[inner]
        slope = (enter[ki + 1] - leave[ki]) / (distinct[ki + 1] - distinct[ki])
        values[inner] = leave[ki] + (x[inner] - distinct[ki]) * slope
        left = values.copy()
        on = (k >= 0) & (x == distinct[np.maximum(k, 0)])
        ko = k[on]
        left[on] = np.where(ko > 0, enter[ko], 0.0)
        return left, values

    def histogram(self, values: FloatArray) -> npt.NDArray[np.int64]:
        """Counts of ``values`` in this sketch's bins."""
        idx = np.searchsorted(self._edges_array, values, side="left")
        return np.bincount(idx, minlength=len(self.edges) + 1).astype(np.int64)


@dataclass(frozen=True)
class CategoricalSketch:
    """A categorical column summarized: counts of its most frequent values.

    Attributes:
        name: the feature's name.
        n: values summarized.
        missing: missing values (NaN) not in ``n``.
        categories: the most frequent values as :func:`category_key` strings, most frequent first.
        counts: count of each category.
        other: values outside ``categories``.
    """

    name: str
    n: int
    missing: int
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    other: int
    kind: Literal["categorical"] = "categorical"

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this sketch."""
        return {
            "kind": self.kind,
            "name": self.name,
            "n": self.n,
            "missing": self.missing,
            "categories": list(self.categories),
            "counts": list(self.counts),
            "other": self.other,
        }

    def frequencies(self, keys: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """Counts of ``keys`` (:func:`category_key` strings) per category, ``other`` last."""
        index = {c: i for i, c in enumerate(self.categories)}
        other = len(self.categories)
        if len(keys) == 0:
            return np.zeros(other + 1, dtype=np.int64)
        # look each distinct key up once (a window has many rows and few categories)
        distinct, inverse = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
        code = np.array([index.get(k, other) for k in distinct.tolist()], dtype=np.int64)
        return np.bincount(code[inverse.reshape(-1)], minlength=other + 1).astype(np.int64)


Sketch = NumericSketch | CategoricalSketch


def _sketch_from_json(obj: Mapping[str, Any]) -> Sketch:
    if obj["kind"] == "numeric":
        return NumericSketch(
            name=str(obj["name"]),
            n=int(obj["n"]),
            missing=int(obj["missing"]),
            points=tuple(float(v) for v in obj["points"]),
            exact=bool(obj["exact"]),
            edges=tuple(float(v) for v in obj["edges"]),
            counts=tuple(int(v) for v in obj["counts"]),
            mean=None if obj["mean"] is None else float(obj["mean"]),
            std=None if obj["std"] is None else float(obj["std"]),
        )
    if obj["kind"] == "categorical":
        return CategoricalSketch(
            name=str(obj["name"]),
            n=int(obj["n"]),
            missing=int(obj["missing"]),
            categories=tuple(str(c) for c in obj["categories"]),
            counts=tuple(int(v) for v in obj["counts"]),
            other=int(obj["other"]),
        )
    raise ValueError(f"unknown sketch kind {obj['kind']!r}")


def category_key(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Values as category keys (strings): the one spelling both the reference and live use.

    Numbers are spelled by their shortest float repr (so ``1`` and ``1.0`` are one category),
    booleans ``true``/``false``, strings as they are.
    """
    arr = np.asarray(values).reshape(-1)
    if arr.dtype.kind == "b":
        out: npt.NDArray[Any] = np.where(arr, "true", "false").astype(object)
        return out
    if arr.dtype.kind in "iuf":
        # spell each distinct value once
        uniq, inverse = np.unique(arr.astype(np.float64), return_inverse=True)
        spelled = np.array([repr(float(v)) for v in uniq.tolist()], dtype=object)
        out = spelled[inverse.reshape(-1)]
        return out
    if arr.dtype.kind in "US":
        out = arr.astype(object)
        return out
    return np.array(
        [
            ("true" if v else "false")
            if isinstance(v, bool | np.bool_)
            else repr(float(v))
            if isinstance(v, int | float | np.number)
            else str(v)
            for v in arr.tolist()
        ],
        dtype=object,
    )


def _numeric(values: npt.NDArray[Any]) -> FloatArray | None:
    """``values`` as float64, or None when they are not numbers."""
    if values.dtype.kind in "iuf":
        return values.astype(np.float64, copy=False)
    return None


def sketch_numeric(name: str, values: npt.NDArray[Any]) -> NumericSketch:
    """Summarize numeric values (NaN counted as missing).

    Args:
        name: the feature's name.
        values: 1-D numbers.

    Returns:
        The sketch.
    """
    x = np.asarray(values, dtype=np.float64)
    nan = np.isnan(x)
    x = np.sort(x[~nan])
    n = int(x.size)
    if n <= SKETCH_POINTS:
        points, exact = x, True
    else:
        probs = (np.arange(SKETCH_POINTS) + 0.5) / SKETCH_POINTS
        points, exact = np.quantile(x, probs, method="inverted_cdf"), False
    edges: FloatArray = (
        np.unique(np.quantile(x, np.arange(1, HISTOGRAM_BINS) / HISTOGRAM_BINS))
        if n
        else np.empty(0)
    )
    edges = edges[np.isfinite(edges)]
    sketch = NumericSketch(
        name=name,
        n=n,
        missing=int(nan.sum()),
        points=tuple(float(v) for v in points),
        exact=exact,
        edges=tuple(float(v) for v in edges),
        counts=(),
        mean=_finite(float(x.mean())) if n else None,
        std=_finite(float(x.std())) if n else None,
    )
    counts = sketch.histogram(x)
    return dataclasses.replace(sketch, counts=tuple(int(c) for c in counts))


def missing_mask(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Which of ``values`` are missing (NaN, or None in an object array)."""
    if values.dtype.kind == "f":
        out: npt.NDArray[np.bool_] = np.isnan(values)
        return out
    if values.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, float) and v != v) for v in values.tolist()], dtype=bool
        )
    return np.zeros(values.shape[0], dtype=bool)


def sketch_categorical(
    name: str, values: npt.NDArray[Any], *, max_categories: int = MAX_CATEGORIES
) -> CategoricalSketch:
    """Summarize categorical values (None/NaN counted as missing).

    Args:
        name: the feature's name.
        values: 1-D values (strings, booleans or numbers).
        max_categories: the most frequent values kept; the rest are counted as ``other``.

    Returns:
        The sketch.
    """
    arr = np.asarray(values)
    missing = missing_mask(arr)
    keys = category_key(arr[~missing])
    pairs: list[tuple[str, int]] = []
    if keys.size:
        uniq, counts = np.unique(keys.astype(str), return_counts=True)
        pairs = [(str(k), int(c)) for k, c in zip(uniq.tolist(), counts.tolist(), strict=True)]
    order = sorted(pairs, key=lambda kc: (-kc[1], kc[0]))
    kept = order[:max_categories]
    other = int(sum(int(c) for _, c in order[max_categories:]))
    return CategoricalSketch(
        name=name,
        n=int(keys.size),
        missing=int(missing.sum()),
        categories=tuple(str(k) for k, _ in kept),
        counts=tuple(int(c) for _, c in kept),
        other=other,
    )


def feature_columns(
    columns: Mapping[str, npt.NDArray[Any]], max_features: int = MAX_PROFILED_FEATURES
) -> tuple[dict[str, npt.NDArray[Any]], int]:
    """Split input columns into 1-D features, in schema order.

    Args:
        columns: one array per input field, rows first (as the model checks them).
        max_features: the most features returned.

    Returns:
        ``({feature name: 1-D values}, how many features were left out)``.
    """
    out: dict[str, npt.NDArray[Any]] = {}
    total = 0
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.ndim <= 1:
            total += 1
            if len(out) < max_features:
                out[name] = arr.reshape(-1)
            continue
        flat = arr.reshape(arr.shape[0], -1)
        for j in range(flat.shape[1]):
            total += 1
            if len(out) < max_features:
                out[f"{name}[{j}]"] = flat[:, j]
    return out, total - len(out)


def confidence_of(
    predictions: npt.NDArray[Any], proba: npt.NDArray[Any], classes: tuple[Any, ...] | None
) -> FloatArray:
    """The probability each row's prediction got (the predicted class's column of ``proba``).

    A label not among ``classes`` (or no classes) falls back to the row's largest probability.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        return np.empty(0)
    best: FloatArray = p.max(axis=1)
    if not classes:
        return best
    index = {k: i for i, k in enumerate(category_key(np.asarray(list(classes))).tolist())}
    cols = np.array([index.get(k, -1) for k in category_key(np.asarray(predictions)).tolist()])
    chosen = p[np.arange(p.shape[0]), np.clip(cols, 0, p.shape[1] - 1)]
    out: FloatArray = np.where(cols >= 0, chosen, best)
    return out


def _is_categorical(values: npt.NDArray[Any]) -> bool:
    if _numeric(values) is None:
        return True
    x = values.astype(np.float64, copy=False)
    x = x[~np.isnan(x)]
    return bool(np.unique(x).size <= CATEGORICAL_MAX_DISTINCT)


def sketch_like(reference: Sketch, values: npt.NDArray[Any]) -> Sketch:
    """Summarize live ``values`` as the reference summarized its own (same kind)."""
    if isinstance(reference, NumericSketch):
        num = _numeric(np.asarray(values))
        if num is None:
            raise InvalidArgumentError(f"feature {reference.name!r}: expected numbers")
        return sketch_numeric(reference.name, num)
    return sketch_categorical(reference.name, np.asarray(values))


@dataclass(frozen=True)
class ReferenceProfile:
    """What a model saw and answered on its evaluation data, summarized.

    Attributes:
        n: rows profiled.
        features: one sketch per input feature, in schema order.
        skipped_features: input features beyond :data:`MAX_PROFILED_FEATURES`, not profiled.
        predictions: the predictions' sketch (categorical for classifiers).
        confidence: the sketch of the probability each prediction got (classifiers with
            ``predict_proba``).
        expected_accuracy: the mean confidence: the accuracy a calibrated model expects on
            the reference data.
        accuracy: the measured accuracy on the reference data when labels were given.
    """

    n: int
    features: tuple[Sketch, ...]
    skipped_features: int
    predictions: Sketch | None
    confidence: NumericSketch | None
    expected_accuracy: float | None
    accuracy: float | None
    format_version: int = PROFILE_FORMAT

    def feature(self, name: str) -> Sketch:
        """The sketch of feature ``name``.

        Raises:
            InvalidArgumentError: no such feature was profiled.
        """
        for f in self.features:
            if f.name == name:
                return f
        raise InvalidArgumentError(f"unknown feature {name[:64]!r}")

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored as ``profile/reference.json``."""
        return {
            "format_version": self.format_version,
            "n": self.n,
            "features": [f.to_json() for f in self.features],
            "skipped_features": self.skipped_features,
            "predictions": None if self.predictions is None else self.predictions.to_json(),
            "confidence": None if self.confidence is None else self.confidence.to_json(),
            "expected_accuracy": self.expected_accuracy,
            "accuracy": self.accuracy,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no NaN)."""
        return json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ReferenceProfile:
        """Parse the JSON object.

        Raises:
            IntegrityError: not a profile this version of labline reads.
        """
        try:
            version = int(obj["format_version"])
            if version != PROFILE_FORMAT:
                raise IntegrityError(f"unsupported reference profile format {version}")
            conf = obj["confidence"]
            confidence = None if conf is None else _sketch_from_json(conf)
            if confidence is not None and not isinstance(confidence, NumericSketch):
                raise ValueError("the confidence sketch must be numeric")
            return cls(
                n=int(obj["n"]),
                features=tuple(_sketch_from_json(f) for f in obj["features"]),
                skipped_features=int(obj["skipped_features"]),
                predictions=None
                if obj["predictions"] is None
                else _sketch_from_json(obj["predictions"]),
                confidence=confidence,
                expected_accuracy=None
                if obj["expected_accuracy"] is None
                else float(obj["expected_accuracy"]),
                accuracy=None if obj["accuracy"] is None else float(obj["accuracy"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IntegrityError(f"malformed reference profile: {type(e).__name__} {e}") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        """Parse ``profile/reference.json`` bytes.

        Raises:
            IntegrityError: the bytes are not a profile.
        """
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise IntegrityError(f"reference profile is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise IntegrityError("reference profile is not a JSON object")
        return cls.from_json(obj)


def _output_sketch(predictions: npt.NDArray[Any], classifier: bool) -> Sketch:
    if classifier or _numeric(predictions) is None:
        return sketch_categorical("prediction", predictions, max_categories=50)
    return sketch_numeric("prediction", predictions)


def build_profile(
    columns: Mapping[str, npt.NDArray[Any]],
    predictions: npt.NDArray[Any],
    proba: npt.NDArray[Any] | None = None,
    *,
    classes: tuple[Any, ...] | None = None,
    labels: npt.NDArray[Any] | None = None,
) -> ReferenceProfile:
    """Profile a model's inputs and outputs on one data set.

    Args:
        columns: one array per input field (rows first).
        predictions: the model's predictions, one per row.
        proba: class probabilities (classifiers), columns in ``classes`` order.
        classes: the class labels (classifiers).
        labels: the true labels, when known (gives :attr:`ReferenceProfile.accuracy`).

    Returns:
        The profile.

    Raises:
        InvalidArgumentError: the arrays do not have one row each per prediction.
    """
    preds = np.asarray(predictions)
    n = int(preds.shape[0]) if preds.ndim else 0
    features, skipped = feature_columns(columns)
    sketches: list[Sketch] = []
    for name, values in features.items():
        if values.shape[0] != n:
            raise InvalidArgumentError(f"feature {name!r} has {values.shape[0]} rows, expected {n}")
        if _is_categorical(values):
            sketches.append(sketch_categorical(name, values))
        else:
            num = _numeric(values)
            assert num is not None
            sketches.append(sketch_numeric(name, num))
    classifier = classes is not None
    confidence: NumericSketch | None = None
    expected: float | None = None
    if proba is not None and n:
        conf = confidence_of(preds, proba, classes)
        confidence = sketch_numeric("confidence", conf)
        expected = _finite(float(conf.mean()))
    accuracy: float | None = None
    if labels is not None:
        y = np.asarray(labels)
        if y.shape[0] != n:
            raise InvalidArgumentError(f"labels have {y.shape[0]} rows, expected {n}")
        accuracy = float(np.mean(category_key(y) == category_key(preds))) if n else None
    return ReferenceProfile(
        n=n,
        features=tuple(sketches),
        skipped_features=skipped,
        predictions=_output_sketch(preds, classifier) if n else None,
        confidence=confidence,
        expected_accuracy=expected,
        accuracy=accuracy,
    )
