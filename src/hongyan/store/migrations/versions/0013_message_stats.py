"""message_stats: messages per account, hour and status, for the console's overview

Backfilled from the messages already stored: accepted (charged) messages
under status "", and every final message under its status, in the hour it
was accepted in (store/message_stats.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_stats",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_message_stats_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "hour", "status", name=op.f("pk_message_stats")),
    )
    # Hours as store/message_stats.py keeps them: epoch ms, a multiple of
    # 3,600,000 (integer division of BIGINT by INTEGER on both databases).
    # The two groups cannot share a key: "" is never a final status.
    op.execute(
        "INSERT INTO message_stats (account_id, hour, status, messages, parts) "
        "SELECT account_id, (created_at / 3600000) * 3600000, '', COUNT(*), SUM(charged) "
        "FROM messages WHERE charged > 0 "
        "GROUP BY account_id, (created_at / 3600000) * 3600000"
    )
    op.execute(
        "INSERT INTO message_stats (account_id, hour, status, messages, parts) "
        "SELECT account_id, (created_at / 3600000) * 3600000, status, COUNT(*), SUM(parts) "
        "FROM messages WHERE state IN ('delivered', 'failed') "
        "GROUP BY account_id, (created_at / 3600000) * 3600000, status"
    )


def downgrade() -> None:
    op.drop_table("message_stats")
