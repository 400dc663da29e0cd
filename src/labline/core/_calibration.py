"""The calibration record of a model version (what ``labline calibrate`` stores) and the one
check every record passes before it is stored.

A calibration says: answer when the confidence score is at least ``threshold``, defer
otherwise; with probability at least ``confidence`` over the draw of the calibration data,
the error rate among the answers kept is at most ``target_error`` — provided future requests
are exchangeable with the calibration examples (drawn the same way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._exceptions import InvalidArgumentError
from ._grammar import Digest, check_actor, check_model_name
from .stats._abstention import ABSTENTION_METHODS, SCORE_NAMES

__all__ = ["Calibration", "CalibrationDraft", "check_calibration_draft", "check_score_name"]

MAX_SOURCE = 500
MAX_CURVE_POINTS = 1000
MAX_PARITY_DECISIONS = 100_000


def check_score_name(score: object) -> str:
    """``"top"``, ``"margin"``, ``"entropy"`` or an importable ``"module:function"``.

    Raises:
        InvalidArgumentError: anything else.
    """
    if isinstance(score, str) and score in SCORE_NAMES:
        return score
    if isinstance(score, str) and score.count(":") == 1 and len(score) <= 250:
        module, func = score.split(":")
        if all(p.isidentifier() for p in module.split(".")) and all(
            p.isidentifier() for p in func.split(".")
        ):
            return score
    raise InvalidArgumentError(
        f"score must be one of {', '.join(SCORE_NAMES)} or 'module:function', got {score!r}"
    )


@dataclass(frozen=True)
class CalibrationDraft:
    """A calibration before it is stored (see :class:`Calibration` for the fields)."""

    model_name: str
    model_version: int
    model_digest: str
    method: str
    score: str
    target_error: float
    confidence: float
    n: int
    threshold: float
    coverage: float
    coverage_low: float
    coverage_high: float
    kept_error: float
    risk_bound: float
    best_target: float
    aurc: float
    overall_error: float
    curve_coverage: tuple[float, ...]
    curve_risk: tuple[float, ...]
    curve_threshold: tuple[float, ...]
    data_fingerprint: str
    data_source: str
    parity_deferred: tuple[bool, ...]
    created_by: str


@dataclass(frozen=True)
class Calibration(CalibrationDraft):
    """A stored calibration of one model version.

    Attributes:
        id: the calibration's id (serving names it in every review item).
        model_name, model_version, model_digest: the version calibrated.
        method: ``"ltt"`` (Learn-then-Test, Hoeffding–Bentkus) or ``"sgr"``.
        score: how confidence is scored: ``"top"``, ``"margin"``, ``"entropy"`` or
            ``"module:function"``.
        target_error: the error rate allowed among the answers kept.
        confidence: probability (over the calibration draw) that the guarantee holds.
        n: calibration examples.
        threshold: answer when the score is at least this; defer otherwise.
        coverage: share of calibration examples answered at the threshold.
        coverage_low, coverage_high: the interval (at ``confidence``) of the share of future
            requests that will be answered.
        kept_error: the error rate among the calibration examples kept.
        risk_bound: an upper confidence bound on the error among kept answers.
        best_target: the smallest target this method could guarantee on these data.
        aurc: area under the risk–coverage curve of the score.
        overall_error: the error rate with no deferral.
        curve_coverage, curve_risk, curve_threshold: the risk–coverage curve (≤ 201 points).
        data_fingerprint: SHA-256 fingerprint of the calibration data.
        data_source: where the data came from (a file name, or ``"arrays"``).
        parity_deferred: the deferral decision on each of the package's parity inputs, which
            the parity gate's replay must reproduce.
        created_at, created_by: when and by whom.
    """

    id: int
    created_at: datetime

    @property
    def guarantee(self) -> str:
        """The guarantee in plain words."""
        return (
            f"With probability at least {self.confidence:g} over the draw of the {self.n} "
            f"calibration examples, at most {self.target_error:g} of the answers this model "
            f"keeps (score >= {self.threshold:.6g}) are wrong, as long as requests are "
            "exchangeable with the calibration data (drawn the same way). It answers about "
            f"{self.coverage:.1%} of requests (between {self.coverage_low:.1%} and "
            f"{self.coverage_high:.1%})."
        )

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (curves as lists)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["created_at"] = self.created_at.isoformat()
        for k in ("curve_coverage", "curve_risk", "curve_threshold", "parity_deferred"):
            out[k] = list(out[k])
        out["guarantee"] = self.guarantee
        return out


def _finite(value: object, field: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{field} must be a number")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise InvalidArgumentError(f"{field} must be a finite number in [{lo:g}, {hi:g}]")
    return v


def _curve(values: Sequence[object], field: str, lo: float, hi: float) -> tuple[float, ...]:
    if len(values) > MAX_CURVE_POINTS:
        raise InvalidArgumentError(f"{field} has more than {MAX_CURVE_POINTS} points")
    return tuple(_finite(v, field, lo, hi) for v in values)


def check_calibration_draft(d: CalibrationDraft) -> CalibrationDraft:
    """The checks every calibration passes before it is stored (one owner of these rules).

    Every number must be finite (PostgreSQL's JSON refuses NaN and infinities), levels and
    rates in range, the curves of one length.

    Returns:
        The draft with normalised values.

    Raises:
        InvalidArgumentError: naming the first field that is not acceptable.
    """
    check_model_name(d.model_name)
    if isinstance(d.model_version, bool) or not isinstance(d.model_version, int):
        raise InvalidArgumentError("model_version must be an integer")
    for name in ("model_digest", "data_fingerprint"):
        try:
            Digest.parse(getattr(d, name))
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"{name}: {e.message}") from None
    if d.method not in ABSTENTION_METHODS:
        raise InvalidArgumentError(f"method must be one of {', '.join(ABSTENTION_METHODS)}")
    check_score_name(d.score)
    if isinstance(d.n, bool) or not isinstance(d.n, int) or d.n < 1:
        raise InvalidArgumentError("n must be a positive integer")
    curves = [
        _curve(d.curve_coverage, "curve_coverage", 0.0, 1.0),
        _curve(d.curve_risk, "curve_risk", 0.0, 1.0),
        _curve(d.curve_threshold, "curve_threshold", -math.inf, math.inf),
    ]
    if len({len(c) for c in curves}) != 1:
        raise InvalidArgumentError("the risk-coverage curves must have one length")
    if not isinstance(d.data_source, str) or not 0 < len(d.data_source) <= MAX_SOURCE:
        raise InvalidArgumentError(f"data_source must be 1..{MAX_SOURCE} characters")
    if len(d.parity_deferred) > MAX_PARITY_DECISIONS or not all(
        isinstance(x, bool) for x in d.parity_deferred
    ):
        raise InvalidArgumentError("parity_deferred must be booleans")
    return CalibrationDraft(
        model_name=d.model_name,
        model_version=d.model_version,
        model_digest=d.model_digest,
        method=d.method,
        score=d.score,
        target_error=_finite(d.target_error, "target_error", 0.0, 1.0),
        confidence=_finite(d.confidence, "confidence", 0.0, 1.0),
        n=d.n,
        threshold=_finite(d.threshold, "threshold"),
        coverage=_finite(d.coverage, "coverage", 0.0, 1.0),
        coverage_low=_finite(d.coverage_low, "coverage_low", 0.0, 1.0),
        coverage_high=_finite(d.coverage_high, "coverage_high", 0.0, 1.0),
        kept_error=_finite(d.kept_error, "kept_error", 0.0, 1.0),
        risk_bound=_finite(d.risk_bound, "risk_bound", 0.0, 1.0),
        best_target=_finite(d.best_target, "best_target", 0.0, 1.0),
        aurc=_finite(d.aurc, "aurc", 0.0, 1.0),
        overall_error=_finite(d.overall_error, "overall_error", 0.0, 1.0),
        curve_coverage=curves[0],
        curve_risk=curves[1],
        curve_threshold=curves[2],
        data_fingerprint=d.data_fingerprint,
        data_source=d.data_source,
        parity_deferred=tuple(d.parity_deferred),
        created_by=check_actor(d.created_by, "created_by"),
    )
