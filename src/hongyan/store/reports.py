"""Status reports handed to customers by `/st/`: once each, in arrival order.

`hand_out()` is a group-commit handler: reading a page of reports and marking
them fetched happen in one transaction, so a report is answered to exactly one
call even with several API processes (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite's write lock serialises the rest).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select, update

from hongyan.store.schema import reports


class ReportRequest(NamedTuple):
    account_id: int
    limit: int
    now: int


class Report(NamedTuple):
    mobile: str
    status: str
    mobileid: str
    created_at: int


def hand_out(conn: Connection, requests: list[ReportRequest]) -> list[list[Report]]:
    return [_hand_out_one(conn, request) for request in requests]


def _hand_out_one(conn: Connection, request: ReportRequest) -> list[Report]:
    rows = conn.execute(
        select(
            reports.c.id,
            reports.c.mobile,
            reports.c.status,
            reports.c.mobileid,
            reports.c.created_at,
        )
        .where(reports.c.account_id == request.account_id, reports.c.fetched_at.is_(None))
        .order_by(reports.c.id)
        .limit(request.limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        conn.execute(
            update(reports)
            .where(reports.c.id.in_([row.id for row in rows]))
            .values(fetched_at=request.now)
        )
    return [Report(row.mobile, row.status, row.mobileid, row.created_at) for row in rows]
