"""operator search and finance indexes: messages across accounts, the ledger by time

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:00:00

The operator console searches messages of every account newest first by
(created_at, id): by number, by channel, or by time alone; each gets the
index that starts a page at its row without reading other accounts'
history (the account's own indexes lead with account_id); failed ones of
every account, partial as ix_messages_failed. Finance reports
sum the ledger over a period of every account: by its time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_mobile_created_at_id"), ["mobile", "created_at", "id"]
        )
        batch_op.create_index(
            batch_op.f("ix_messages_channel_created_at_id"), ["channel", "created_at", "id"]
        )
        batch_op.create_index(batch_op.f("ix_messages_created_at_id"), ["created_at", "id"])
    failed = sa.text("state = 'failed'")
    op.create_index(
        "ix_messages_failed_all",
        "messages",
        ["created_at", "id"],
        unique=False,
        sqlite_where=failed,
        postgresql_where=failed,
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_created_at"), ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_created_at"))
    op.drop_index("ix_messages_failed_all", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_messages_channel_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_messages_mobile_created_at_id"))
