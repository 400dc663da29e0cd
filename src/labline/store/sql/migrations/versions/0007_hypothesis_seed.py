"""hypotheses.seed: the random seed a hypothesis is evaluated with, stored so it can be shown.

Hypotheses registered before this revision were evaluated with their id as the seed; the
upgrade writes that down for them.

Revision ID: 0007_hypothesis_seed
Revises: 0006_run_parents_exp_deletes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_hypothesis_seed"
down_revision = "0006_run_parents_exp_deletes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hypotheses") as batch:
        batch.add_column(sa.Column("seed", sa.BigInteger))
    op.execute("UPDATE hypotheses SET seed = id WHERE seed IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("hypotheses") as batch:
        batch.drop_column("seed")
