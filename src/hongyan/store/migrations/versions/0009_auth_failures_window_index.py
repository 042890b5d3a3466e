"""auth_failures: an index on window_start, for the housekeeper's pruning

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 08:00:00

The housekeeper deletes the rows whose counting window is over, a batch at a
time (store/system.py `prune_failures`); the index finds them without reading
the rows of the current window.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_failures_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_failures_window_start"))
