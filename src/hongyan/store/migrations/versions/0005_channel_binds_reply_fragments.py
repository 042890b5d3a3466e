"""channel binds, reply fragments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_fragments",
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("mobile", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=40), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "channel", "mobile", "reference", "seq", name=op.f("pk_reply_fragments")
        ),
    )
    with op.batch_alter_table("channel_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("binds", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("channel_status", schema=None) as batch_op:
        batch_op.drop_column("binds")
    op.drop_table("reply_fragments")
