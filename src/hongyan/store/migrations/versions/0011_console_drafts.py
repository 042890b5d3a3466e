"""console_drafts: numbers and text between the console's send form and its confirmation

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("time", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_console_drafts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_drafts")),
    )
    with op.batch_alter_table("console_drafts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_drafts_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("console_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_drafts_created_at"))
    op.drop_table("console_drafts")
