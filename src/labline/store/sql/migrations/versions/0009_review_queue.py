"""The review queue (items, decisions) and the labelled datasets made from reviewed items.

Revision ID: 0009_review_queue
Revises: 0008_actors_and_deleted_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_review_queue"
down_revision = "0008_actors_and_deleted_runs"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(250), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("model_digest", sa.String(71), nullable=False),
        sa.Column("calibration_id", sa.BigInteger),
        sa.Column("inputs", sa.JSON, nullable=True),
        sa.Column("guess", sa.JSON, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("margin", sa.Float),
        sa.Column("uncertainty", sa.Float, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(250), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("enqueued_at", _TS, nullable=False),
        sa.Column("reviews_needed", sa.Integer, nullable=False),
        sa.Column("reviews_done", sa.Integer, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("claimed_by", sa.String(250)),
        sa.Column("lease_expires_at", _TS),
    )
    op.create_index("ix_review_items_uncertainty", "review_items", ["done", "uncertainty", "id"])
    op.create_index("ix_review_items_time", "review_items", ["done", "created_at", "id"])
    op.create_index("ix_review_items_claimed_by", "review_items", ["claimed_by"])
    op.create_index("ix_review_items_model", "review_items", ["model_name", "model_version"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("reviewer", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("undone_at", _TS),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
    )
    op.create_index("ix_review_decisions_item", "review_decisions", ["item_id", "reviewer"])
    op.create_index("ix_review_decisions_reviewer", "review_decisions", ["reviewer", "id"])
    op.create_table(
        "labelled_datasets",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("fingerprint", sa.String(71), nullable=False),
        sa.Column("n_examples", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("query", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
    )
    op.create_table(
        "labelled_dataset_examples",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), primary_key=True),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("decision_ids", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"], ["labelled_datasets.name", "labelled_datasets.version"]
        ),
    )


def downgrade() -> None:
    op.drop_table("labelled_dataset_examples")
    op.drop_table("labelled_datasets")
    op.drop_index("ix_review_decisions_reviewer", "review_decisions")
    op.drop_index("ix_review_decisions_item", "review_decisions")
    op.drop_table("review_decisions")
    for ix in ("model", "claimed_by", "time", "uncertainty"):
        op.drop_index(f"ix_review_items_{ix}", "review_items")
    op.drop_table("review_items")
