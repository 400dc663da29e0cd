"""Tracking tables: experiments, runs, params, tags, metric chunks, datasets, predictions, artifacts.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("ended_at", _TS),
        sa.Column("heartbeat_at", _TS),
        sa.Column("error", sa.Text),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("host", sa.String(250), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
    )
    op.create_index("ix_runs_experiment_created", "runs", ["experiment_id", "created_at"])
    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metric_chunks",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("timestamps", sa.LargeBinary, nullable=False),
        sa.Column("values", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_metric_chunks_run_key", "metric_chunks", ["run_id", "key", "id"])
    op.create_table(
        "metric_summaries",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("last_value", sa.Float),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("min_value", sa.Float),
        sa.Column("max_value", sa.Float),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("n_rows", sa.BigInteger),
        sa.Column("meta", sa.JSON, nullable=False),
    )
    op.create_index("ix_datasets_fingerprint", "datasets", ["fingerprint"])
    op.create_table(
        "predictions",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("dataset", sa.String(250), primary_key=True),
        sa.Column("dataset_fingerprint", sa.String(80), nullable=False),
        sa.Column("ids_digest", sa.String(80), nullable=False),
        sa.Column("blob_digest", sa.String(80), nullable=False),
        sa.Column("n_rows", sa.BigInteger, nullable=False),
        sa.Column("has_proba", sa.Boolean, nullable=False),
        sa.Column("classes", sa.JSON),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_predictions_dataset_fingerprint", "predictions", ["dataset_fingerprint"])
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "artifacts",
        "predictions",
        "datasets",
        "metric_summaries",
        "metric_chunks",
        "tags",
        "params",
        "runs",
        "experiments",
    ):
        op.drop_table(table)
