"""Sweeps: ``sweeps`` (a search, its parent run, directions, attributes, the trial counter) and
``sweep_trials`` (one row per trial: number, state, values, params, intermediate values,
attributes).

Revision ID: 0011_sweeps
Revises: 0010_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_sweeps"
down_revision = "0010_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("run_id", sa.String(32), nullable=False, index=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("directions", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("user_attrs", sa.Text, nullable=False),
        sa.Column("system_attrs", sa.Text, nullable=False),
        sa.Column("distributions", sa.Text, nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "sweep_trials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sweep_id", sa.Integer, sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("values", sa.Text),
        sa.Column("datetime_start", sa.DateTime(timezone=False)),
        sa.Column("datetime_complete", sa.DateTime(timezone=False)),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("intermediate", sa.Text, nullable=False),
        sa.Column("user_attrs", sa.Text, nullable=False),
        sa.Column("system_attrs", sa.Text, nullable=False),
        sa.UniqueConstraint("sweep_id", "number", name="uq_sweep_trials_number"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sweep_trials_sweep_state", "sweep_trials", ["sweep_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_sweep_trials_sweep_state", "sweep_trials")
    op.drop_table("sweep_trials")
    op.drop_table("sweeps")
