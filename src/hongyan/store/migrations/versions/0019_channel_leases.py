"""channel leases and worker nodes: each channel runs on one worker node

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 14:00:00

`channel_leases` holds, per channel, the node running it, a lease it renews
and an epoch that grows at every change of hands; `worker_nodes` the nodes
alive, among which channels are shared (dispatch/ownership.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_leases",
        sa.Column("channel", sa.String(length=40), primary_key=True),
        sa.Column("owner", sa.String(length=120), server_default="", nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("taken_at", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "worker_nodes",
        sa.Column("node", sa.String(length=120), primary_key=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("seen_until", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_nodes")
    op.drop_table("channel_leases")
