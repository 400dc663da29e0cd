"""ORM tables of the tracking store. Never returned to callers: see ``_convert``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MAX_NAME = 250
MAX_KEY = 250
MAX_VALUE = 6000


class Base(DeclarativeBase):
    """Declarative base shared by every labline table."""


class ExperimentRow(Base):
    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(MAX_NAME))


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    env: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    host: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False, default="")
    pid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    parent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False, default="")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(MAX_NAME))
    __table_args__ = (Index("ix_runs_experiment_created", "experiment_id", "created_at"),)


class ParamRow(Base):
    __tablename__ = "params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    # the value read as a number (core._run_query.numeric_text), NULL for text: search compares
    # and sorts params numerically through it, with an index, without parsing text in SQL
    value_num: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (Index("ix_params_key_num", "key", "value_num"),)


class TagRow(Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    __table_args__ = (Index("ix_tags_key_run", "key", "run_id"),)


class MetricChunkRow(Base):
    """Consecutive points of one series packed as little-endian arrays: one row per flush,
    not one row per point (the layout that makes 10^6 points/s possible). Steps and timestamps
    are usually packed smaller still (arithmetic runs, run lengths): see ``_metric_codec``."""

    __tablename__ = "metric_chunks"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(MAX_KEY), nullable=False)
    n: Mapped[int] = mapped_column(Integer, nullable=False)
    steps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    timestamps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    values: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # how steps and timestamps are packed: see _metric_codec
    steps_codec: Mapped[str] = mapped_column(String(8), nullable=False, server_default="raw")
    timestamps_codec: Mapped[str] = mapped_column(String(8), nullable=False, server_default="raw")
    __table_args__ = (Index("ix_metric_chunks_run_key", "run_id", "key", "id"),)


class MetricBatchRow(Base):
    """Batches of metric points already stored, by (writer, sequence number): a retried batch
    is recognised and skipped in the transaction that would have stored it again."""

    __tablename__ = "metric_batches"
    writer: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), nullable=False, index=True)


class MetricSummaryRow(Base):
    __tablename__ = "metric_summaries"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    last_value: Mapped[float | None] = mapped_column(Float)  # SQLite stores NaN as NULL
    last_step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    min_value: Mapped[float | None] = mapped_column(Float)  # SQLite stores NaN as NULL
    max_value: Mapped[float | None] = mapped_column(Float)  # SQLite stores NaN as NULL
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    __table_args__ = (Index("ix_metric_summaries_key_last", "key", "last_value"),)


class DatasetRow(Base):
    __tablename__ = "datasets"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    n_rows: Mapped[int | None] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class PredictionsRow(Base):
    __tablename__ = "predictions"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    dataset_fingerprint: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    ids_digest: Mapped[str] = mapped_column(String(80), nullable=False)
    blob_digest: Mapped[str] = mapped_column(String(80), nullable=False)
    n_rows: Mapped[int] = mapped_column(BigInteger, nullable=False)
    has_proba: Mapped[bool] = mapped_column(nullable=False)
    classes: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)


__all__ = [
    "MAX_KEY",
    "MAX_NAME",
    "MAX_VALUE",
    "ArtifactRow",
    "Base",
    "DatasetRow",
    "ExperimentRow",
    "MetricChunkRow",
    "MetricSummaryRow",
    "ParamRow",
    "PredictionsRow",
    "RunRow",
    "TagRow",
]
