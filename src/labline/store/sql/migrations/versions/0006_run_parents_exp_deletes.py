"""Parent and child runs (``runs.parent_id``) and soft-deleted experiments
(``experiments.deleted_at``, ``experiments.deleted_by``).

Plain ``ALTER TABLE`` both ways (SQLite >= 3.35 drops columns natively): a batch copy of
``experiments`` or ``runs`` would drop a table other tables' foreign keys point at.

Revision ID: 0006_run_parents_exp_deletes
Revises: 0005_run_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_run_parents_exp_deletes"
down_revision = "0005_run_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("parent_id", sa.String(32)))
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])
    op.add_column("experiments", sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.add_column("experiments", sa.Column("deleted_by", sa.String(250)))


def downgrade() -> None:
    op.drop_column("experiments", "deleted_by")
    op.drop_column("experiments", "deleted_at")
    op.drop_index("ix_runs_parent_id", "runs")
    op.drop_column("runs", "parent_id")
