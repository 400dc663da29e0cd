"""Who wrote what, and soft-deleted runs: ``runs.created_by``, ``runs.deleted_at``,
``runs.deleted_by`` and ``hypotheses.created_by``. Rows written before this revision have an
empty ``created_by`` (the writer was not recorded then).

Revision ID: 0008_actors_and_deleted_runs
Revises: 0007_hypothesis_seed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_actors_and_deleted_runs"
down_revision = "0007_hypothesis_seed"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


# Plain ALTER TABLE ADD/DROP COLUMN on both backends (SQLite >= 3.35): a batch copy of
# ``runs`` would drop a table that other tables' rows still reference.


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("created_by", sa.String(250), nullable=False, server_default="")
    )
    op.add_column("runs", sa.Column("deleted_at", _TS))
    op.add_column("runs", sa.Column("deleted_by", sa.String(250)))
    op.add_column(
        "hypotheses", sa.Column("created_by", sa.String(250), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("hypotheses", "created_by")
    op.drop_column("runs", "deleted_by")
    op.drop_column("runs", "deleted_at")
    op.drop_column("runs", "created_by")
