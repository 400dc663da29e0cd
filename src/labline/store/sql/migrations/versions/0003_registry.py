"""model registry tables.

Revision ID: 0003_registry
Revises: 0002_hypotheses
"""

from __future__ import annotations

revision = "0003_registry"
down_revision = "0002_hypotheses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
