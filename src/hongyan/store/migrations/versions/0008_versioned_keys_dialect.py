"""accounts: server key versions of the digests, answer dialect, bare-md5 pwd

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:00:00

Every digest stored before this revision was made with the one secret there
was, which the key ring reads as version 1: existing accounts keep working.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("dialect", sa.String(length=12), server_default="standard", nullable=False)
        )
        batch_op.add_column(sa.Column("bare_md5_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("bare_md5_key_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("bare_md5_key_version")
        batch_op.drop_column("bare_md5_digest")
        batch_op.drop_column("dialect")
        batch_op.drop_column("key_version")
