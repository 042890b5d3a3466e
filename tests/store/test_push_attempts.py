"""The last push requests of an account, on SQLite and PostgreSQL: newest first,
each account's own, and no more than `KEPT` of them."""

from __future__ import annotations

from hongyan.core.admin import Operator
from hongyan.store.database import Database
from hongyan.store.push import attempts as attempt_log


def attempt(account_id: int, n: int) -> attempt_log.Attempt:
    status = 200 if n % 2 else 500
    return attempt_log.Attempt(
        account_id,
        1_000 + n,
        "report",
        "push.example:8080",
        status,
        "" if status == 200 else "HTTP 500",
        "ok" if status == 200 else "no",
        1 + n % 3,
    )


async def test_the_newest_are_listed_first_and_each_account_sees_its_own(
    db: Database, operator: Operator
) -> None:
    one = (await operator.create_account("one", "password-1")).id
    two = (await operator.create_account("two", "password-2")).id
    await db.write(attempt_log.record, [attempt(one, 1), attempt(one, 2), attempt(two, 3)])
    listed = await db.read_sync(lambda conn: attempt_log.latest(conn, one))
    assert [a.at for a in listed] == [1_002, 1_001]
    assert listed[0] == attempt(one, 2)
    assert [a.at for a in await db.read_sync(lambda conn: attempt_log.latest(conn, two))] == [1_003]


async def test_an_account_keeps_only_its_newest(db: Database, operator: Operator) -> None:
    one = (await operator.create_account("one", "password-1")).id
    two = (await operator.create_account("two", "password-2")).id
    await db.write(attempt_log.record, [attempt(two, 0)])
    for start in range(0, attempt_log.KEPT + 30, 10):
        await db.write(attempt_log.record, [attempt(one, n) for n in range(start, start + 10)])
    kept = await db.read_sync(lambda conn: attempt_log.latest(conn, one, limit=1_000))
    assert len(kept) == attempt_log.KEPT
    assert kept[0].at == 1_000 + attempt_log.KEPT + 29 and kept[-1].at == 1_030
    # Another account's rows are not pruned with them.
    assert len(await db.read_sync(lambda conn: attempt_log.latest(conn, two))) == 1


async def test_long_answers_and_errors_are_cut(db: Database, operator: Operator) -> None:
    one = (await operator.create_account("one", "password-1")).id
    long = attempt(one, 0)._replace(error="e" * 500, answer="答" * 500)
    await db.write(attempt_log.record, [long])
    (kept,) = await db.read_sync(lambda conn: attempt_log.latest(conn, one))
    assert kept.error == "e" * 200 and kept.answer == "答" * 200
