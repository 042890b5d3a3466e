"""push targets and outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 03:17:38.130312
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(length=200), server_default="", nullable=False),
        sa.Column("last_attempt_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_push_outbox_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outbox")),
    )
    with op.batch_alter_table("push_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_push_outbox_account_id_state"), ["account_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_push_outbox_state_next_at"), ["state", "next_at"], unique=False
        )

    op.create_table(
        "push_targets",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("replies_url", sa.String(length=500), server_default="", nullable=False),
        sa.Column("reports_url", sa.String(length=500), server_default="", nullable=False),
        sa.Column("method", sa.String(length=4), server_default="GET", nullable=False),
        sa.Column("secret", sa.String(length=128), server_default="", nullable=False),
        sa.Column("batch_reports", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_push_targets_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_push_targets")),
    )


def downgrade() -> None:
    op.drop_table("push_targets")
    with op.batch_alter_table("push_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_outbox_state_next_at"))
        batch_op.drop_index(batch_op.f("ix_push_outbox_account_id_state"))

    op.drop_table("push_outbox")
