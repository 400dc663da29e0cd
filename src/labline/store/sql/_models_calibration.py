"""ORM table of calibrations. Never returned to callers (see ``_calibration``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base
from ._models_registry import DIGEST_LEN


class CalibrationRow(Base):
    __tablename__ = "calibrations"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    model_name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    model_version: Mapped[int] = mapped_column(Integer, nullable=False)
    model_digest: Mapped[str] = mapped_column(String(DIGEST_LEN), nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    score: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    target_error: Mapped[float] = mapped_column(Float, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)
    threshold: Mapped[float] = mapped_column(Float, nullable=False)
    # every other figure and the curves: finite numbers only (checked before the write)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    data_fingerprint: Mapped[str] = mapped_column(String(DIGEST_LEN), nullable=False)
    data_source: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "model_version"], ["model_versions.name", "model_versions.version"]
        ),
        Index("ix_calibrations_version", "model_name", "model_version", "id"),
    )
