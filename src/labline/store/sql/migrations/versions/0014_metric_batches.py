"""metric_batches: the (writer, sequence number) of every batch of metric points stored, so a
batch a remote writer retries is stored once.

Revision ID: 0014_metric_batches
Revises: 0013_mlflow_models
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_metric_batches"
down_revision = "0013_mlflow_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_batches",
        sa.Column("writer", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    )
    op.create_index("ix_metric_batches_run_id", "metric_batches", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_metric_batches_run_id", table_name="metric_batches")
    op.drop_table("metric_batches")
