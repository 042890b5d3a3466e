"""console records: keyset indexes, a message's reports and charges, pushed_at

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 11:00:00

The console pages records and replies newest first by (time, id): the id
joins the account's time index so a page inside one large batch (all one
created_at) starts at its row. The batch filter, a message's reports and
its charge and refunds each get the index that finds them without reading
the account's whole history. `pushed_at` tells a pushed report or reply
from one fetched by /st/ or /rx/ after its outbox row has gone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_account_id_created_at"))
        batch_op.create_index(
            batch_op.f("ix_messages_account_id_created_at_id"),
            ["account_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_messages_submission_id"), ["submission_id"], unique=False
        )
    failed = sa.text("state = 'failed'")
    op.create_index(
        "ix_messages_failed",
        "messages",
        ["account_id", "created_at", "id"],
        unique=False,
        sqlite_where=failed,
        postgresql_where=failed,
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pushed_at", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_reports_message_id"), ["message_id"], unique=False)
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_submission_id"), ["submission_id"], unique=False
        )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pushed_at", sa.BigInteger(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_replies_account_id_received_at"))
        batch_op.create_index(
            batch_op.f("ix_replies_account_id_received_at_id"),
            ["account_id", "received_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replies_account_id_received_at_id"))
        batch_op.create_index(
            batch_op.f("ix_replies_account_id_received_at"),
            ["account_id", "received_at"],
            unique=False,
        )
        batch_op.drop_column("pushed_at")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_submission_id"))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_message_id"))
        batch_op.drop_column("pushed_at")
    op.drop_index("ix_messages_failed", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_submission_id"))
        batch_op.drop_index(batch_op.f("ix_messages_account_id_created_at_id"))
        batch_op.create_index(
            batch_op.f("ix_messages_account_id_created_at"),
            ["account_id", "created_at"],
            unique=False,
        )
