"""ORM table of the MLflow-model store. Never returned to callers (see ``_mlflow_models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base

MODEL_ID_LEN = 34  # "m-" and 32 hex digits


class MlflowModelRow(Base):
    __tablename__ = "mlflow_models"
    __table_args__ = (Index("ix_mlflow_models_experiment", "experiment_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(MODEL_ID_LEN), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), nullable=False)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), nullable=False, index=True)
    source_run_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_message: Mapped[str | None] = mapped_column(Text)
    model_type: Mapped[str | None] = mapped_column(String(MAX_NAME))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
