"""Access tokens of ``labline server``: only each secret's SHA-256 is stored.

Revision ID: 0010_tokens
Revises: 0009_review_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_tokens"
down_revision = "0009_review_queue"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("expires_at", _TS),
        sa.Column("revoked_at", _TS),
        sa.Column("revoked_by", sa.String(250)),
        sa.UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),
    )
    op.create_index("ix_tokens_name", "tokens", ["name"])


def downgrade() -> None:
    op.drop_index("ix_tokens_name", table_name="tokens")
    op.drop_table("tokens")
