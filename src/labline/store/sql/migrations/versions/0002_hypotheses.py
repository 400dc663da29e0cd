"""hypotheses tables.

Revision ID: 0002_hypotheses
Revises: 0001_foundation
"""

from __future__ import annotations

revision = "0002_hypotheses"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
