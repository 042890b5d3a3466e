"""Channel leases on SQLite and PostgreSQL (store/ownership.py): nodes share
the channels, a lease taken over moves its epoch on and the node that lost it
can neither renew nor release it, and a node claims only its channels'
messages (dispatch/ownership.py runs these turns; here they are taken by hand)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.ownership import plan
from hongyan.core.service import SendForm
from hongyan.store import delivery, ownership
from hongyan.store.database import Database
from hongyan.store.delivery import ClaimRequest
from hongyan.store.schema import messages
from tests.store.test_store import sender

CHANNELS = ("sim", "smpp")
LEASE = 15_000
NOW = 1_800_000_000_000


def never_gone(_node: str) -> bool:
    return False


async def turn(
    db: Database,
    node: str,
    held: dict[str, int],
    now: int = NOW,
    gone: Callable[[str], bool] = never_gone,
    avoid: tuple[str, ...] = (),
) -> ownership.TurnResult:
    request = ownership.Turn(node, now, LEASE, CHANNELS, tuple(held.items()), avoid, gone)
    return await db.write(ownership.turn, request)


def test_the_rule_shares_channels_one_turn_at_a_time() -> None:
    assert plan(CHANNELS, set(), {"sim", "smpp"}, nodes=1).take == ("sim", "smpp")
    assert plan(CHANNELS, set(), {"sim", "smpp"}, nodes=2).take == ("sim",)
    # A node holding both, another one alive: the last is given back.
    assert plan(CHANNELS, {"sim", "smpp"}, set(), nodes=2).give_back == ("smpp",)
    # Lately given back: left for another node this turn.
    assert plan(CHANNELS, set(), {"smpp"}, nodes=2, avoid={"smpp"}).take == ()


async def test_a_second_node_gets_its_share_once_the_first_gives_one_back(db: Database) -> None:
    first = await turn(db, "a", {})
    assert first.taken == ["sim", "smpp"] and first.held == {"sim": 1, "smpp": 1}
    assert first.quiet_ms == {}  # nobody held them before: sent on at once

    second = await turn(db, "b", {})  # both held: nothing free yet
    assert second.held == {}
    again = await turn(db, "a", first.held, NOW + 1000)  # a sees b: one too many
    assert again.give_back == ["smpp"] and again.held == {"sim": 1, "smpp": 1}
    assert await db.write(ownership.release, ownership.Release("a", "smpp", 1, NOW + 1500))

    second = await turn(db, "b", {}, NOW + 2000)
    assert second.taken == ["smpp"] and second.held == {"smpp": 2}  # the epoch moved on
    assert second.quiet_ms == {"smpp": 500}  # a second after a stopped sending on it
    # a's old token is refused: no renewal, no release of what b holds now.
    lost = await turn(db, "a", {"sim": 1, "smpp": 1}, NOW + 3000)
    assert lost.lost == ["smpp"] and lost.held == {"sim": 1}
    assert not await db.write(ownership.release, ownership.Release("a", "smpp", 1, NOW))
    owners = await db.read_sync(lambda conn: ownership.owners(conn, NOW + 3000))
    assert {name: o.node for name, o in owners.items()} == {"sim": "a", "smpp": "b"}


async def test_a_lease_that_ran_out_is_taken_over_and_a_gone_node_frees_at_once(
    db: Database,
) -> None:
    await turn(db, "a", {})
    # Before a's lease ran out, b gets nothing; after, both channels.
    assert (await turn(db, "b", {}, NOW + LEASE - 1)).held == {}
    later = await turn(db, "b", {}, NOW + LEASE + 1)
    assert later.held == {"sim": 2, "smpp": 2}
    assert later.quiet_ms == {"sim": 999, "smpp": 999}

    # c knows b's process is gone: its channels are free without waiting.
    now = NOW + LEASE + 2
    taken = await turn(db, "c", {}, now, gone=lambda node: node == "b")
    assert taken.held == {"sim": 3, "smpp": 3}
    assert taken.quiet_ms == {"sim": 1000, "smpp": 1000}  # b may have sent until now


async def test_a_node_claims_its_channels_and_unrouted_messages_only(
    settings: Settings, db: Database, operator: Operator
) -> None:
    service, account, _ = await sender(settings, db, operator)
    await service.send(account, SendForm("13900000001,13900000002,13900000003", "x"), post=False)
    await turn(db, "a", {})
    a_held = {"sim": 1, "smpp": 1}
    await turn(db, "b", {})
    await turn(db, "a", a_held, NOW + 1)
    await db.write(ownership.release, ownership.Release("a", "smpp", 1, NOW))
    await turn(db, "b", {}, NOW + 2)  # b runs smpp, a runs sim

    async def route(mobile: str, channel: str | None) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                update(messages).where(messages.c.mobile == mobile).values(channel=channel)
            )

    await route("13900000001", "smpp")  # b's
    await route("13900000002", "gone")  # a channel no node is configured with
    # 13900000003: not routed yet

    def request(node: str, owned: tuple[str, ...]) -> ClaimRequest:
        return ClaimRequest(NOW + 3, 30_000, 100, node, owned)

    claimed = await db.write(delivery.claim, request("a", ("sim",)))
    assert sorted(m.mobile for m in claimed) == ["13900000002", "13900000003"]
    # b's own, but only while the store has b's lease on it: a stale list is not enough.
    assert await db.write(delivery.claim, request("a", ("smpp",))) == []
    (mine,) = await db.write(delivery.claim, request("b", ("smpp",)))
    assert mine.mobile == "13900000001"
