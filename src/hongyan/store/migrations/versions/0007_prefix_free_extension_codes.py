"""extension codes are prefix-free: refuse to go on while two collide

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00

No schema change. The earlier allocator gave `%04d` of the account id, so a
database of 10,000 accounts or more holds codes of which one begins another
(`1000`, `10000`), and a reply to the longer one could be given to the
shorter one's account. Changing a code changes the number a customer's
handsets reply to, so this is left to the operator: the upgrade stops with
the colliding accounts named, and goes on once none collide
(`hongyan.core.extensions`).

A migration is frozen: what it checks is copied here as it was at 0007, not
imported from `hongyan.core`, whose rule may change later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hongyan.errors import DataConflict

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SHOWN = 20
_FIX = (
    "Give one account of each pair a code that neither begins nor is begun by another "
    "(in SQL: UPDATE accounts SET ext_code = '...' WHERE uid = '...'), tell its customer "
    "the new gateway number, then start again."
)


def _collisions(codes: list[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """Every pair of (uid, code) of which one code begins the other, as
    (uid, code, uid, code), the shorter code first. Sorted, a code is followed
    at once by every code it begins, so one pass over neighbours finds them all."""
    ordered = sorted(codes, key=lambda item: item[1])
    found = []
    for i, (uid, code) in enumerate(ordered):
        for other_uid, other in ordered[i + 1 :]:
            if not other.startswith(code):
                break
            found.append((uid, code, other_uid, other))
    return found


def upgrade() -> None:
    rows = op.get_bind().execute(sa.text("SELECT uid, ext_code FROM accounts")).all()
    found = _collisions([(str(uid), str(code)) for uid, code in rows])
    if not found:
        return
    pairs = [
        f"{short_uid!r} ({short}) begins {long_uid!r} ({long})"
        for short_uid, short, long_uid, long in found[:_SHOWN]
    ]
    more = f"; and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    raise DataConflict(
        f"{len(found)} pair(s) of accounts have extension codes of which one begins the "
        f"other, so a reply to the longer one could reach the wrong account: "
        f"{'; '.join(pairs)}{more}. {_FIX}"
    )


def downgrade() -> None:
    pass
