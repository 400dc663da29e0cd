"""ORM tables of the sweep store. Never returned to callers (see ``_sweeps``).

A trial's params, intermediate values and attributes are JSON text columns of its one row (JSON
text, not a JSON column: attribute values may be NaN or ±Inf, which PostgreSQL's json refuses),
so reading a sweep's trials is one query. Run ids are plain columns, not foreign keys: ``gc``
may purge a deleted trial run while the sweep's record of it stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base


class SweepRow(Base):
    __tablename__ = "sweeps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), unique=True, nullable=False)
    run_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    experiment_id: Mapped[int] = mapped_column(Integer, nullable=False)
    directions: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    metrics: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    user_attrs: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    system_attrs: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    # name → distribution JSON as first recorded: one distribution per name per sweep
    distributions: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    # trials numbered so far: incremented with UPDATE ... RETURNING, one number per caller
    n_trials: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # ids are never reused after a delete (caches key finished trials by id)
    __table_args__ = ({"sqlite_autoincrement": True},)


class TrialRow(Base):
    __tablename__ = "sweep_trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    run_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    values: Mapped[str | None] = mapped_column(Text)  # JSON list
    # naive local times, as Optuna gives and compares them
    datetime_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    datetime_complete: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    intermediate: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    user_attrs: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    system_attrs: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    __table_args__ = (
        UniqueConstraint("sweep_id", "number", name="uq_sweep_trials_number"),
        Index("ix_sweep_trials_sweep_state", "sweep_id", "state"),
        {"sqlite_autoincrement": True},
    )


__all__ = ["SweepRow", "TrialRow"]
