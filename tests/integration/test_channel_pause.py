"""Channels paused and resumed while the platform runs; the channel page's
live figures from a running worker; the throughput series' exact totals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select

from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.channel_control import ChannelControl
from hongyan.core.channels_view import ChannelsPage, channels_page
from hongyan.core.states import MessageState
from hongyan.core.throughput import recent
from hongyan.store.schema import messages
from tests import waiting
from tests.conftest import Customer, RunningServer, create_customer
from tests.integration.conftest import live_server

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")
SOLO_UID = "solo_sender"


def until(check: object, what: str) -> None:
    waiting.until(check, what)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`primary` fails over to `backup`; the account SOLO_UID goes to `solo`, alone."""
    instant = {"delay_min_s": 0, "delay_max_s": 0.02}
    server = live_server(
        tmp_path_factory,
        channels=[
            {"name": "primary", **instant},
            {"name": "backup", **instant},
            {"name": "solo", **instant},
        ],
        routes=[{"channel": "solo", "accounts": [SOLO_UID]}],
        fallback_channel="primary",
        fallback_failover=["backup"],
    )
    yield server
    server.stop()


def customer(server: RunningServer, uid: str | None = None) -> Customer:
    op = Operator(server.settings, server.platform.db, actor=Actor.cli())
    return server.on_server(create_customer(op, uid=uid))


def submitted(server: RunningServer, channel: str) -> int:
    return server.platform.channels[channel].status().submitted


def send(
    server: RunningServer, c: Customer, count: int, prefix: str = "1390000", first: int = 100
) -> None:
    """Numbers from `first` on: the simulator fails those ending 0000-0002."""
    mobiles = ",".join(f"{prefix}{first + i:04d}" for i in range(count))
    answer = server.post("/mt/", {**c.auth(), "mobile": mobiles, "content": "hello"})
    assert answer.content == SUCCESS


def account_messages(server: RunningServer, uid: str) -> list[tuple[str, str | None]]:
    from hongyan.store.schema import accounts

    def read(conn: Connection) -> list[tuple[str, str | None]]:
        rows = conn.execute(
            select(messages.c.state, messages.c.channel)
            .join(accounts, accounts.c.id == messages.c.account_id)
            .where(accounts.c.uid == uid)
            .order_by(messages.c.id)
        )
        return [(str(state), channel) for state, channel in rows]

    return server.on_server(server.platform.db.read_sync(read))


def control(server: RunningServer) -> ChannelControl:
    return ChannelControl(server.settings, server.platform.db)


def test_a_paused_channel_fails_over_and_takes_messages_again_once_resumed(
    routed: RunningServer,
) -> None:
    c = customer(routed)
    dispatcher = routed.platform.dispatcher
    assert routed.on_server(control(routed).pause(Actor.cli(), "primary"))
    until(lambda: "primary" in dispatcher.paused.names, "the worker sees the pause")
    primary, backup = submitted(routed, "primary"), submitted(routed, "backup")

    send(routed, c, 5)
    until(lambda: submitted(routed, "backup") == backup + 5, "five went to the failover")
    until(
        lambda: account_messages(routed, c.uid) == [(MessageState.DELIVERED, "backup")] * 5,
        "delivered through the failover",
    )
    assert submitted(routed, "primary") == primary

    assert routed.on_server(control(routed).resume(Actor.cli(), "primary"))
    until(lambda: "primary" not in dispatcher.paused.names, "the worker sees the resume")
    send(routed, c, 3, prefix="1390001")
    until(lambda: submitted(routed, "primary") == primary + 3, "three went to primary again")
    assert submitted(routed, "backup") == backup + 5


def test_messages_for_a_paused_channel_without_failover_wait_then_go(
    routed: RunningServer,
) -> None:
    c = customer(routed, uid=SOLO_UID)
    dispatcher = routed.platform.dispatcher
    assert routed.on_server(control(routed).pause(Actor.cli(), "solo"))
    until(lambda: "solo" in dispatcher.paused.names, "the worker sees the pause")
    before = submitted(routed, "solo")

    send(routed, c, 4)
    # Claimed, found to be for the paused channel, and given back to wait for it.
    until(
        lambda: account_messages(routed, c.uid) == [(MessageState.QUEUED, "solo")] * 4,
        "the messages wait for solo",
    )
    until(
        lambda: next(v for v in page(routed).channels if v.name == "solo").queued == 4,
        "the channel page counts them queued for solo",
    )
    assert submitted(routed, "solo") == before
    assert all(state == MessageState.QUEUED for state, _ in account_messages(routed, c.uid))
    assert next(v for v in page(routed).channels if v.name == "solo").paused

    assert routed.on_server(control(routed).resume(Actor.cli(), "solo"))
    until(lambda: submitted(routed, "solo") == before + 4, "sent once resumed")
    until(
        lambda: account_messages(routed, c.uid) == [(MessageState.DELIVERED, "solo")] * 4,
        "delivered through solo",
    )


def page(server: RunningServer) -> ChannelsPage:
    return server.on_server(channels_page(server.settings, server.platform.db))


def test_the_channel_page_shows_what_the_running_worker_reports(
    routed: RunningServer,
) -> None:
    c = customer(routed)
    before = next(v for v in page(routed).channels if v.name == "primary")
    send(routed, c, 10, prefix="1390002")

    def reported() -> bool:
        view = next(v for v in page(routed).channels if v.name == "primary")
        return (
            view.submitted >= before.submitted + 10
            and view.receipts_final >= before.receipts_final + 10
            and view.awaiting_receipts == 0
        )

    until(reported, "the worker reported the receipts of primary")
    shown = page(routed)
    assert [v.name for v in shown.channels] == ["simulator", "primary", "backup", "solo"]
    primary = next(v for v in shown.channels if v.name == "primary")
    assert primary.state == "up" and not primary.stale and not primary.paused
    assert primary.kind == "simulator"
    assert primary.delivery_rate == 1.0  # numbers not ending 0000-0002 are delivered
    assert primary.latency_p50_ms is not None and primary.latency_p95_ms is not None
    assert 0 <= primary.latency_p50_ms <= primary.latency_p95_ms
    assert primary.errors == 0
    # The routes as configured: solo's, then the fallback with its failover.
    assert [(r.channel, r.accounts, r.failover, r.fallback) for r in shown.routes] == [
        ("solo", (SOLO_UID,), (), False),
        ("primary", (), ("backup",), True),
    ]
    assert primary.routes == (1,)
    assert next(v for v in shown.channels if v.name == "backup").routes == (1,)
    assert next(v for v in shown.channels if v.name == "simulator").routes == ()


def test_the_throughput_series_counts_what_was_accepted_and_delivered(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = live_server(tmp_path_factory)
    try:
        c = customer(server)
        send(server, c, 30, prefix="1390003")
        send(server, c, 3, prefix="1380000", first=0)  # ending 0000-0002: UNDELIV, EXPIRED, REJECTD

        def totals() -> tuple[int, int, int, int]:
            series = server.on_server(recent(server.platform.db, seconds=600))
            return (
                sum(s.accepted for s in series),
                sum(s.submitted for s in series),
                sum(s.delivered for s in series),
                sum(s.failed for s in series),
            )

        # Flushed once a second, from the current second on: wait for the last.
        until(lambda: totals() == (33, 33, 30, 3), "the series holds every message")
    finally:
        server.stop()
