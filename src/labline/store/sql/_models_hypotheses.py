"""ORM table of the hypothesis store. Never returned to callers (see ``_hypotheses``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...core._validation import MAX_SELECTOR_LEN as MAX_SELECTOR
from ._models import MAX_NAME, Base


class HypothesisRow(Base):
    __tablename__ = "hypotheses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement: Mapped[str] = mapped_column(Text, nullable=False)
    baseline: Mapped[str] = mapped_column(String(MAX_SELECTOR), nullable=False)
    candidate: Mapped[str] = mapped_column(String(MAX_SELECTOR), nullable=False)
    metric: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    dataset: Mapped[str | None] = mapped_column(String(MAX_NAME))
    min_effect: Mapped[float] = mapped_column(Float, nullable=False)
    alpha: Mapped[float] = mapped_column(Float, nullable=False)
    seeds: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(40), nullable=False)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("hypotheses.id"), index=True)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False, default="")
