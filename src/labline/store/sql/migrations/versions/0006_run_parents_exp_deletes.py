"""Parent and child runs (``runs.parent_id``) and soft-deleted experiments
(``experiments.deleted_at``, ``experiments.deleted_by``).

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
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(32)))
        batch.create_index("ix_runs_parent", ["parent_id"])
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("deleted_by", sa.String(250)))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("deleted_by")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_parent")
        batch.drop_column("parent_id")
