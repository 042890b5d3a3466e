"""The operator's account list on SQLite and PostgreSQL: figures from the
rollup and the newest message, search, sorting either way (accounts without
a figure last), and pages."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hongyan.config import Settings
from hongyan.core.account_list import AccountRow, account_list, arrange
from hongyan.core.admin import Operator
from hongyan.core.overview import local_midnight
from hongyan.core.service import SendForm
from hongyan.store import message_stats
from hongyan.store.database import Database
from hongyan.store.message_stats import HOUR_MS, Count
from tests.clock import ControlledClock
from tests.conftest import create_customer
from tests.store.test_store import sender

ZONE = ZoneInfo("Asia/Shanghai")


async def test_figures_search_sorting_and_pages(
    settings: Settings, db: Database, operator: Operator
) -> None:
    clock = ControlledClock(held=True)
    now = clock()
    tag = f"al{now % 100000}"
    service, busy, _ = await sender(
        settings, db, operator, clock, balance=500, uid=f"{tag}-busy", per_number="off"
    )
    await service.send(busy, SendForm("13900000001,13900000002", "hi"), post=False)
    quiet = await create_customer(operator, balance=2000, uid=f"{tag}-quiet")
    frozen = await create_customer(operator, balance=10, uid=f"{tag}-frozen")
    await operator.set_frozen(frozen.uid, True)
    await operator.set_api_send(frozen.uid, False)
    ids = {uid: (await operator.show(uid)).id for uid in (busy.uid, quiet.uid, frozen.uid)}
    midnight = local_midnight(now, ZONE)
    # Delivered and failed of the last 24 hours count in the rate; older ones do not.
    counts = [
        Count(ids[busy.uid], now, "100", 3, 3),
        Count(ids[busy.uid], now, "UNDELIV", 1, 1),
        Count(ids[busy.uid], now - 30 * HOUR_MS, "UNDELIV", 50, 50),
        Count(ids[quiet.uid], now - 2 * HOUR_MS, "100", 1, 1),
        # Accepted before today's midnight: not "sent today".
        Count(ids[quiet.uid], midnight - HOUR_MS, "", 7, 7),
    ]
    async with db.transaction() as conn:
        await conn.run_sync(lambda sync: message_stats.add(sync, counts))

    found = await account_list(db, ZONE, now, q=tag.upper())
    assert found.total == 3 and found.pages == 1
    rows = {r.uid: r for r in found.rows}
    assert [r.uid for r in found.rows] == sorted(rows)  # by uid by default
    b, q, f = rows[busy.uid], rows[quiet.uid], rows[frozen.uid]
    assert (b.balance, b.sent_today, b.delivered, b.failed) == (498, 2, 3, 1)
    assert b.delivery_rate == 0.75 and b.last_activity == now and b.active
    assert (q.sent_today, q.delivery_rate, q.last_activity) == (0, 1.0, None)
    assert (f.frozen, f.api_send, f.active, f.delivery_rate) == (True, False, False, None)

    by_rate = await account_list(db, ZONE, now, q=tag, sort="delivery_rate", descending=True)
    assert [r.uid for r in by_rate.rows] == [quiet.uid, busy.uid, frozen.uid]
    by_rate_up = await account_list(db, ZONE, now, q=tag, sort="delivery_rate")
    assert [r.uid for r in by_rate_up.rows] == [busy.uid, quiet.uid, frozen.uid]
    by_balance = await account_list(db, ZONE, now, q=tag, sort="balance", descending=True)
    assert [r.uid for r in by_balance.rows] == [quiet.uid, busy.uid, frozen.uid]
    by_activity = await account_list(db, ZONE, now, q=tag, sort="last_activity")
    assert by_activity.rows[0].uid == busy.uid  # the others never sent: last
    assert (await account_list(db, ZONE, now, q="no-such-uid-here")).rows == []

    second = await account_list(db, ZONE, now, q=tag, sort="balance", page=2, size=2)
    assert (second.page, second.pages, [r.uid for r in second.rows]) == (2, 2, [quiet.uid])
    beyond = await account_list(db, ZONE, now, q=tag, page=9, size=2)
    assert beyond.page == 2


def test_rows_without_a_value_sort_last_either_way() -> None:
    def row(uid: str, rate: tuple[int, int] | None) -> AccountRow:
        delivered, failed = rate or (0, 0)
        return AccountRow(uid, False, True, 0, 0, delivered, failed, None)

    rows = [row("a", None), row("b", (1, 1)), row("c", (1, 0)), row("d", None)]
    assert [r.uid for r in arrange(rows, "delivery_rate", False)] == ["b", "c", "a", "d"]
    assert [r.uid for r in arrange(rows, "delivery_rate", True)] == ["c", "b", "a", "d"]
