"""Metric chunks name the codec of their steps and timestamps (arithmetic runs, run lengths).

Before, both were always raw arrays: 16 of every 24 bytes a point took. See
``labline.store.sql._metric_codec`` for the codecs. Downgrading decodes every chunk back to raw
arrays, which is what older labline reads.

Revision ID: 0004_metric_chunk_codecs
Revises: 0003_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from labline.store.sql._metric_codec import RAW, decode_steps, decode_timestamps

revision = "0004_metric_chunk_codecs"
down_revision = "0003_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metric_chunks") as batch:
        for column in ("steps_codec", "timestamps_codec"):
            batch.add_column(sa.Column(column, sa.String(8), nullable=False, server_default=RAW))


def downgrade() -> None:
    chunks = sa.table(
        "metric_chunks",
        sa.column("id", sa.BigInteger),
        sa.column("n", sa.Integer),
        sa.column("steps_codec", sa.String),
        sa.column("steps", sa.LargeBinary),
        sa.column("timestamps_codec", sa.String),
        sa.column("timestamps", sa.LargeBinary),
    )
    conn = op.get_bind()
    encoded = conn.execute(
        sa.select(chunks).where(
            sa.or_(chunks.c.steps_codec != RAW, chunks.c.timestamps_codec != RAW)
        )
    ).all()
    for row in encoded:
        conn.execute(
            sa.update(chunks)
            .where(chunks.c.id == row.id)
            .values(
                steps=decode_steps(row.steps_codec, row.steps, row.n).tobytes(),
                timestamps=decode_timestamps(row.timestamps_codec, row.timestamps, row.n).tobytes(),
                steps_codec=RAW,
                timestamps_codec=RAW,
            )
        )
    with op.batch_alter_table("metric_chunks") as batch:
        batch.drop_column("timestamps_codec")
        batch.drop_column("steps_codec")
