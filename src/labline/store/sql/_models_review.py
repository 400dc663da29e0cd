"""ORM tables of the review queue and of the labelled datasets made from it. Never returned to
callers (see ``_review``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base
from ._models_registry import DIGEST_LEN


class ReviewItemRow(Base):
    __tablename__ = "review_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    model_version: Mapped[int] = mapped_column(Integer, nullable=False)
    model_digest: Mapped[str] = mapped_column(String(DIGEST_LEN), nullable=False)
    calibration_id: Mapped[int | None] = mapped_column(BigInteger)
    inputs: Mapped[Any] = mapped_column(JSON, nullable=True)
    guess: Mapped[Any] = mapped_column(JSON, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    margin: Mapped[float | None] = mapped_column(Float)
    uncertainty: Mapped[float] = mapped_column(Float, nullable=False)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    request_id: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reviews_needed: Mapped[int] = mapped_column(Integer, nullable=False)
    reviews_done: Mapped[int] = mapped_column(Integer, nullable=False)
    done: Mapped[bool] = mapped_column(Boolean, nullable=False)
    claimed_by: Mapped[str | None] = mapped_column(String(MAX_NAME))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_review_items_uncertainty", "done", "uncertainty", "id"),
        Index("ix_review_items_time", "done", "created_at", "id"),
        Index("ix_review_items_claimed_by", "claimed_by"),
        Index("ix_review_items_model", "model_name", "model_version"),
    )


class ReviewDecisionRow(Base):
    __tablename__ = "review_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), nullable=False)
    reviewer: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    label: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(50), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    __table_args__ = (
        Index("ix_review_decisions_item", "item_id", "reviewer"),
        Index("ix_review_decisions_reviewer", "reviewer", "id"),
    )


class LabelledDatasetRow(Base):
    __tablename__ = "labelled_datasets"
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(DIGEST_LEN), nullable=False)
    n_examples: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    query: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class LabelledExampleRow(Base):
    __tablename__ = "labelled_dataset_examples"
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), primary_key=True)
    label: Mapped[Any] = mapped_column(JSON, nullable=False)
    decision_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(
            ["name", "version"], ["labelled_datasets.name", "labelled_datasets.version"]
        ),
    )
