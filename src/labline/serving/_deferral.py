"""Deferral in serving: a calibrated model version answers every item with ``deferred`` and its
confidence score.

The threshold, the score function and the promise (coverage and its interval) come from the
version's calibration (``labline calibrate``) and are fixed here once, when the model is
loaded; the request path only scores the batch's probabilities and compares them with the
threshold through :func:`labline.core.stats._abstention.defers`, the rule calibration and the
parity gate use too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..core.stats._abstention import confidence_scores, defers, resolve_score

__all__ = ["Deferral"]


@dataclass(frozen=True)
class Deferral:
    """The deferral decision of one calibrated model version.

    Attributes:
        calibration_id: the stored calibration (named in every review item and answer).
        threshold: answer when the score is at least this; defer otherwise.
        score_name: ``top``, ``margin``, ``entropy`` or ``module:function``.
        score: the resolved score (a name, or the imported function).
        coverage: share of the calibration data answered; ``1 - coverage`` is the promised
            deferral rate.
        coverage_low: the low end of the coverage interval (so ``1 - coverage_low`` is the
            highest deferral rate the calibration expects).
        coverage_high: the high end of the coverage interval.
        target_error: the error rate allowed among the kept answers.
        confidence: probability (over the calibration draw) that the guarantee holds.
    """

    calibration_id: int
    threshold: float
    score_name: str
    score: str | Callable[[npt.NDArray[np.float64]], Any]
    coverage: float
    coverage_low: float
    coverage_high: float
    target_error: float
    confidence: float

    @classmethod
    def from_calibration(cls, calibration: Any) -> Deferral:
        """The decision a stored :class:`labline.Calibration` describes (its score function
        imported once, here).

        Raises:
            InvalidArgumentError: the calibration names a score function that cannot be
                imported in this process.
        """
        return cls(
            calibration_id=int(calibration.id),
            threshold=float(calibration.threshold),
            score_name=str(calibration.score),
            score=resolve_score(calibration.score),
            coverage=float(calibration.coverage),
            coverage_low=float(calibration.coverage_low),
            coverage_high=float(calibration.coverage_high),
            target_error=float(calibration.target_error),
            confidence=float(calibration.confidence),
        )

    @property
    def promised_deferral_rate(self) -> float:
        """The share of requests the calibration expects to be deferred."""
        return 1.0 - self.coverage

    def decide(
        self, proba: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
        """Score a batch's probabilities and decide each row.

        Args:
            proba: ``(n, n_classes)`` class probabilities.

        Returns:
            ``(deferred, confidence)``: one boolean and one score per row.

        Raises:
            InvalidArgumentError: a malformed probability matrix or a score function giving
                non-finite values.
        """
        scores = confidence_scores(proba, self.score)
        return defers(scores, self.threshold), scores

    def to_json(self) -> dict[str, Any]:
        """What an answer and the model metadata say about the calibration."""
        return {
            "id": self.calibration_id,
            "threshold": self.threshold,
            "score": self.score_name,
            "target_error": self.target_error,
            "confidence": self.confidence,
            "coverage": self.coverage,
        }
