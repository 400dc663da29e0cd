"""calibrations: the abstention thresholds of model versions (``labline calibrate``).

Revision ID: 0012_calibrations
Revises: 0011_sweeps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_calibrations"
down_revision = "0011_sweeps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("model_name", sa.String(250), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("model_digest", sa.String(71), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("score", sa.String(250), nullable=False),
        sa.Column("target_error", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("data_fingerprint", sa.String(71), nullable=False),
        sa.Column("data_source", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "model_version"], ["model_versions.name", "model_versions.version"]
        ),
    )
    op.create_index(
        "ix_calibrations_version", "calibrations", ["model_name", "model_version", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_calibrations_version", table_name="calibrations")
    op.drop_table("calibrations")
