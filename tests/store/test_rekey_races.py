"""Re-keying under concurrency (issue 11 item 7), on SQLite and PostgreSQL.

After a rotation, a digest on the old key is made again on the new one at its
account's next success; requests in several processes do so at once, and an
operator may change the password meanwhile. The write is conditional on the
digest it replaces, so no interleaving corrupts a digest or brings back an
old password.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.credentials import api_key_digest, api_password, bare_md5
from hongyan.core.gates import Gatekeeper
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat
from hongyan.store.database import Database
from hongyan.store.schema import accounts
from tests.conftest import create_customer


async def gates_for(settings: Settings, db: Database) -> Gatekeeper:
    gates = Gatekeeper(settings, db)
    await gates.refresh()
    return gates


async def stat_of(gates: Gatekeeper, uid: str, pwd: str) -> Stat:
    try:
        await gates.admit(uid, pwd, "192.0.2.1", sending=False)
    except Rejected as exc:
        return exc.stat
    return Stat.OK


async def stored(db: Database, uid: str) -> tuple[str, int, str | None, int | None]:
    async with db.read() as conn:
        row = await conn.execute(
            select(
                accounts.c.api_key_digest,
                accounts.c.key_version,
                accounts.c.bare_md5_digest,
                accounts.c.bare_md5_key_version,
            ).where(accounts.c.uid == uid)
        )
        digest, version, bare, bare_version = row.one()
    return digest, version, bare, bare_version


async def test_many_requests_rekeying_at_once_in_two_processes_leave_a_sound_digest(
    settings: Settings, db: Database
) -> None:
    old = settings.model_copy(update={"secret": "1:first-key"})
    rotated = settings.model_copy(update={"secret": "1:first-key,2:second-key"})
    operator = Operator(old, db, actor=Actor.cli())
    customer = await create_customer(operator, password="pass-1")
    await operator.access.set_dialect(customer.uid, "legacy")
    await operator.access.set_bare_md5(customer.uid, True, "pass-1")
    bare = bare_md5("pass-1")
    first, second = await gates_for(rotated, db), await gates_for(rotated, db)

    stats = await asyncio.gather(
        *(
            stat_of(gates, customer.uid, pwd)
            for _ in range(10)
            for gates in (first, second)
            for pwd in (customer.pwd, bare)
        )
    )
    assert set(stats) == {Stat.OK}
    assert await stored(db, customer.uid) == (
        api_key_digest("second-key", customer.pwd),
        2,
        api_key_digest("second-key", bare),
        2,
    )
    for gates in (first, second, await gates_for(rotated, db)):
        await gates.refresh()
        assert await stat_of(gates, customer.uid, customer.pwd) == Stat.OK
        assert await stat_of(gates, customer.uid, bare) == Stat.OK
    status = await Operator(rotated, db, actor=Actor.cli()).access.key_status()
    assert (status.on_older, status.retirable) == (0, (1,))


async def test_a_rekey_never_brings_back_a_password_changed_meanwhile(
    settings: Settings, db: Database
) -> None:
    old = settings.model_copy(update={"secret": "1:first-key"})
    rotated = settings.model_copy(update={"secret": "1:first-key,2:second-key"})
    customer = await create_customer(Operator(old, db, actor=Actor.cli()), password="before")
    gates = await gates_for(rotated, db)
    assert await gates.account(customer.uid) is not None  # cached, on key 1

    await Operator(rotated, db, actor=Actor.cli()).access.set_password(customer.uid, "after")
    new_pwd = api_password("after", customer.uid)
    # Until its next poll this process still knows the old digest: the old pwd
    # gets in once more, and its re-key finds the digest changed and writes nothing.
    assert await stat_of(gates, customer.uid, customer.pwd) == Stat.OK
    assert await stored(db, customer.uid) == (api_key_digest("second-key", new_pwd), 2, None, None)

    await gates.refresh()
    assert await stat_of(gates, customer.uid, customer.pwd) == Stat.AUTH_FAILED
    assert await stat_of(gates, customer.uid, new_pwd) == Stat.OK
