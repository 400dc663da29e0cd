"""Model registry tables: models, immutable versions, aliases, append-only alias history.

Revision ID: 0003_registry
Revises: 0002_hypotheses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_registry"
down_revision = "0002_hypotheses"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column(
            "name", sa.String(250), sa.ForeignKey("registered_models.name"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.UniqueConstraint("name", "digest", name="uq_model_versions_digest"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("alias", sa.String(250), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"], ["model_versions.name", "model_versions.version"]
        ),
    )
    op.create_table(
        "model_alias_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("alias", sa.String(250), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("from_version", sa.Integer),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(250), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("parity", sa.String(250), nullable=False),
        sa.UniqueConstraint("name", "alias", "seq", name="uq_model_alias_events_seq"),
    )


def downgrade() -> None:
    op.drop_table("model_alias_events")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
