"""reply fragments remember a completed reply for a while

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reply_fragments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("completed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reply_fragments", schema=None) as batch_op:
        batch_op.drop_column("completed_at")
