"""live figures: channel_status figures, throughput a second, push breakers

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_FIGURES = ("errors", "queued", "receipts_delivered", "receipts_final")


def upgrade() -> None:
    with op.batch_alter_table("channel_status", schema=None) as batch_op:
        for name in _FIGURES:
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            )
        batch_op.add_column(sa.Column("latency_p50_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("latency_p95_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "throughput",
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("process", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("submitted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("delivered", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("second", "process", name=op.f("pk_throughput")),
    )
    op.create_table(
        "push_breakers",
        sa.Column("host", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("open_until", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_push_breakers")),
    )


def downgrade() -> None:
    op.drop_table("push_breakers")
    op.drop_table("throughput")
    with op.batch_alter_table("channel_status", schema=None) as batch_op:
        for name in ("latency_p95_ms", "latency_p50_ms", *reversed(_FIGURES)):
            batch_op.drop_column(name)
