"""SQL implementation of the calibration store (a mixin of :class:`SQLStore`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..._exceptions import InvalidArgumentError, NotFoundError
from ...core._calibration import Calibration, CalibrationDraft, check_calibration_draft
from .._calibration_base import CalibrationStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_calibration import CalibrationRow
from ._models_registry import ModelVersionRow

_SUMMARY = (
    "coverage",
    "coverage_low",
    "coverage_high",
    "kept_error",
    "risk_bound",
    "best_target",
    "aurc",
    "overall_error",
)
_LISTS = ("curve_coverage", "curve_risk", "curve_threshold", "parity_deferred")


def _to_calibration(row: CalibrationRow) -> Calibration:
    summary: dict[str, Any] = dict(row.summary)
    return Calibration(
        id=row.id,
        model_name=row.model_name,
        model_version=row.model_version,
        model_digest=row.model_digest,
        method=row.method,
        score=row.score,
        target_error=row.target_error,
        confidence=row.confidence,
        n=row.n,
        threshold=row.threshold,
        data_fingerprint=row.data_fingerprint,
        data_source=row.data_source,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        **{k: float(summary[k]) for k in _SUMMARY},
        curve_coverage=tuple(float(x) for x in summary["curve_coverage"]),
        curve_risk=tuple(float(x) for x in summary["curve_risk"]),
        curve_threshold=tuple(float(x) for x in summary["curve_threshold"]),
        parity_deferred=tuple(bool(x) for x in summary["parity_deferred"]),
    )


def _version_number(version: object) -> int | None:
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        return None
    return version


class CalibrationSQLMixin(SQLMixinBase, CalibrationStoreBase):
    """Calibration-store methods implemented with SQLAlchemy."""

    def _version_row(self, s: Session, name: str, version: int) -> ModelVersionRow:
        number = _version_number(version)
        row = None if number is None else s.get(ModelVersionRow, (name, number))
        if row is None:
            raise NotFoundError(f"model version {name}/{version} does not exist")
        return row

    def add_calibration(self, draft: CalibrationDraft) -> Calibration:
        d = check_calibration_draft(draft)
        with self._session(write=True) as s:
            mv = self._version_row(s, d.model_name, d.model_version)
            if mv.digest != d.model_digest:
                raise InvalidArgumentError(
                    f"model_digest is not the digest of {d.model_name}/{d.model_version}"
                )
            summary: dict[str, Any] = {k: getattr(d, k) for k in _SUMMARY}
            summary.update({k: list(getattr(d, k)) for k in _LISTS})
            row = CalibrationRow(
                model_name=d.model_name,
                model_version=d.model_version,
                model_digest=d.model_digest,
                method=d.method,
                score=d.score,
                target_error=d.target_error,
                confidence=d.confidence,
                n=d.n,
                threshold=d.threshold,
                summary=summary,
                data_fingerprint=d.data_fingerprint,
                data_source=d.data_source,
                created_at=utcnow(),
                created_by=d.created_by,
            )
            s.add(row)
            s.flush()
            return _to_calibration(row)

    def get_calibration(self, calibration_id: int) -> Calibration:
        if (
            isinstance(calibration_id, bool)
            or not isinstance(calibration_id, int)
            or not 0 < calibration_id < 2**63
        ):
            raise NotFoundError(f"calibration {calibration_id!r} does not exist")
        with self._session() as s:
            row = s.get(CalibrationRow, calibration_id)
            if row is None:
                raise NotFoundError(f"calibration {calibration_id} does not exist")
            return _to_calibration(row)

    def list_calibrations(self, name: str, version: int) -> list[Calibration]:
        with self._session() as s:
            self._version_row(s, name, version)
            rows = s.scalars(
                sa.select(CalibrationRow)
                .where(CalibrationRow.model_name == name, CalibrationRow.model_version == version)
                .order_by(CalibrationRow.id)
            )
            return [_to_calibration(r) for r in rows]

    def current_calibration(self, name: str, version: int) -> Calibration | None:
        with self._session() as s:
            self._version_row(s, name, version)
            row = s.scalars(
                sa.select(CalibrationRow)
                .where(CalibrationRow.model_name == name, CalibrationRow.model_version == version)
                .order_by(CalibrationRow.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _to_calibration(row)
