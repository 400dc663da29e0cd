"""Models logged through the MLflow API (MLflow 3 "logged models"): their records; their files
are artifacts of a run.

Revision ID: 0013_mlflow_models
Revises: 0012_calibrations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_mlflow_models"
down_revision = "0012_calibrations"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mlflow_models",
        sa.Column("id", sa.String(34), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("source_run_id", sa.String(32)),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("model_type", sa.String(250)),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("deleted_at", _TS),
    )
    op.create_index("ix_mlflow_models_run_id", "mlflow_models", ["run_id"])
    op.create_index("ix_mlflow_models_experiment", "mlflow_models", ["experiment_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_mlflow_models_experiment", table_name="mlflow_models")
    op.drop_index("ix_mlflow_models_run_id", table_name="mlflow_models")
    op.drop_table("mlflow_models")
