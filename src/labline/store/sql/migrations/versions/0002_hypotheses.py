"""hypotheses table: pre-registered hypotheses, evaluated once, linked by ``supersedes``.

Revision ID: 0002_hypotheses
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_hypotheses"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hypotheses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("baseline", sa.String(1000), nullable=False),
        sa.Column("candidate", sa.String(1000), nullable=False),
        sa.Column("metric", sa.String(250), nullable=False),
        sa.Column("dataset", sa.String(250)),
        sa.Column("min_effect", sa.Float, nullable=False),
        sa.Column("alpha", sa.Float, nullable=False),
        sa.Column("seeds", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("evaluated_at", _TS),
        sa.Column("result", sa.JSON),
        sa.Column("supersedes", sa.Integer, sa.ForeignKey("hypotheses.id")),
    )
    op.create_index("ix_hypotheses_supersedes", "hypotheses", ["supersedes"])


def downgrade() -> None:
    op.drop_index("ix_hypotheses_supersedes", table_name="hypotheses")
    op.drop_table("hypotheses")
