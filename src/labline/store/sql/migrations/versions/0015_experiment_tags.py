"""Experiment tags (``experiment_tags``), and the editable card of a registered model
(``created_by``, ``description``, ``tags``, ``updated_at``), so that a model may exist before
its first version.

Revision ID: 0015_experiment_tags
Revises: 0014_metric_batches
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_experiment_tags"
down_revision = "0014_metric_batches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.add_column("registered_models", sa.Column("created_by", sa.String(250)))
    op.add_column("registered_models", sa.Column("description", sa.Text))
    op.add_column("registered_models", sa.Column("tags", sa.JSON))
    op.add_column("registered_models", sa.Column("updated_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of the table
    # would drop registered_models, which model_versions' foreign key forbids
    for column in ("updated_at", "tags", "description", "created_by"):
        op.execute(f"ALTER TABLE registered_models DROP COLUMN {column}")
    op.drop_table("experiment_tags")
