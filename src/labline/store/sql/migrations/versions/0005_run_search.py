"""Run search: params read as numbers, and the indexes the search's query plans use.

``params.value_num`` holds a param's value read as a number (NULL for text), filled here for
params logged before; ``(key, value)``-style indexes let each filter test be answered from an
index range instead of a scan of every run's rows.

Revision ID: 0005_run_search
Revises: 0004_metric_chunk_codecs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labline.core._run_query import numeric_text

revision = "0005_run_search"
down_revision = "0004_metric_chunk_codecs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("params", sa.Column("value_num", sa.Float(), nullable=True))
    params = sa.table(
        "params",
        sa.column("run_id", sa.String),
        sa.column("key", sa.String),
        sa.column("value", sa.Text),
        sa.column("value_num", sa.Float),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(params.c.run_id, params.c.key, params.c.value)).all()
    numbers = [
        {"r": run_id, "k": key, "n": number}
        for run_id, key, value in rows
        if (number := numeric_text(value)) is not None
    ]
    if numbers:
        conn.execute(
            params.update()
            .where(params.c.run_id == sa.bindparam("r"), params.c.key == sa.bindparam("k"))
            .values(value_num=sa.bindparam("n")),
            numbers,
        )
    op.create_index("ix_params_key_num", "params", ["key", "value_num"])
    op.create_index("ix_tags_key_run", "tags", ["key", "run_id"])
    op.create_index("ix_metric_summaries_key_last", "metric_summaries", ["key", "last_value"])


def downgrade() -> None:
    op.drop_index("ix_metric_summaries_key_last", "metric_summaries")
    op.drop_index("ix_tags_key_run", "tags")
    op.drop_index("ix_params_key_num", "params")
    op.drop_column("params", "value_num")
