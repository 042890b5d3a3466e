"""console sessions of an operator viewing an account read-only

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 09:00:00

`console_sessions.viewer` names the operator who opened the account's
customer console from /admin/ (core/sessions.py `start_viewing`); "" is the
customer's own session. The console refuses every change in such a session.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("viewer", sa.String(length=64), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_column("viewer")
