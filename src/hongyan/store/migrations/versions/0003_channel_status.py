"""channel status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 01:55:04.528109
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_status",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("tps", sa.Float(), nullable=True),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("submitted", sa.BigInteger(), nullable=False),
        sa.Column("awaiting_receipts", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(length=200), server_default="", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_status")),
    )


def downgrade() -> None:
    op.drop_table("channel_status")
