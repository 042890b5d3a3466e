"""Messages travel: dispatch to the simulator, receipts to /st/, replies to /rx/."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, func, select

from hongyan.store import system
from hongyan.store.schema import messages
from tests import waiting
from tests.conftest import Customer, RunningServer, _server_settings

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")


def until(check: Callable[[], bool], timeout: float = waiting.WAIT_S) -> None:
    waiting.until(check, getattr(check, "__name__", "the condition"), timeout)


def tried(server: RunningServer, mobile_prefix: str) -> int:
    """How many of the server's messages to numbers starting so were tried at least once."""

    def count(conn: Connection) -> int:
        return int(
            conn.execute(
                select(func.count()).where(
                    messages.c.mobile.startswith(mobile_prefix), messages.c.attempts > 0
                )
            ).scalar_one()
        )

    return server.on_server(server.platform.db.read_sync(count))


def reports(server: RunningServer, c: Customer) -> list[list[str]]:
    body = server.get("/st/", c.auth()).content.decode("gbk")
    return [line.split(",") for line in body.split("\n")] if body else []


def collect_reports(server: RunningServer, c: Customer, count: int) -> list[list[str]]:
    got: list[list[str]] = []

    def enough() -> bool:
        got.extend(reports(server, c))
        return len(got) >= count

    until(enough)
    time.sleep(0.2)
    got.extend(reports(server, c))  # nothing more may come
    return got


def test_send_reports_reply_records_balance(live: RunningServer) -> None:
    c = live.customer(balance=100)
    sent = live.get(
        "/mt/",
        {
            **c.auth(),
            "mobile": "13900008888,1390000test,13900000000",
            "mobileids": "a1,a2,a3",
            "content": "您的验证码是 1234",
        },
    )
    assert sent.content == SUCCESS
    got = collect_reports(live, c, 3)
    assert sorted((r[0], r[1], r[2]) for r in got) == [
        ("13900000000", "UNDELIV", "a3"),
        ("13900008888", "100", "a1"),
        ("1390000test", "112", "a2"),
    ]
    records = live.get("/rd/", c.auth()).content.decode("gbk").split("|#|")[1:]
    assert sorted((r.split("||")[1], r.split("||")[3]) for r in records) == [
        ("13900000000", "UNDELIV"),
        ("13900008888", "100"),
        ("1390000test", "112"),
    ]
    assert live.get("/mm/", c.auth()).text == "sms&stat=100&remain=98"

    ext = live.operate(lambda op: op.show(c.uid)).ext_code
    gateway = live.settings.gateway_prefix + ext + "12"
    live.on_server(live.platform.simulator.inject_reply("13900008888", gateway, "好的||收到"))
    first = live.get("/rx/", c.auth()).content.decode("gbk")
    assert first.startswith("100{&}13900008888||好的｜｜收到||")
    assert first.endswith(f"||{gateway}")
    assert live.get("/rx/", c.auth()).content == b""  # never twice
    again = live.get("/rx/", {**c.auth(), "time": "2000-01-01 00:00:00"}).content.decode("gbk")
    assert again == first  # time= fetches again
    assert live.get("/rx/", {"uid": c.uid, "pwd": "0" * 32}).content == b"101"


def test_a_long_message_is_delivered_when_all_its_parts_are(live: RunningServer) -> None:
    c = live.customer()
    form = {**c.auth(), "mobile": "13900007777", "content": "长" * 150, "encode": "utf8"}
    assert live.post("/mt/", form).content == SUCCESS  # 150 characters: 3 parts
    got = collect_reports(live, c, 1)
    assert [(r[0], r[1]) for r in got] == [("13900007777", "100")]
    assert live.get("/mm/", c.auth()).text == "sms&stat=100&remain=997"


def test_paused_sending_holds_queued_messages_until_resumed(live: RunningServer) -> None:
    c = live.customer()
    zone = ZoneInfo(live.settings.timezone)
    # The platform's clock held: the message falls due when the test says, after the pause.
    with live.clock.frozen() as clock:
        now = datetime.fromtimestamp(clock() / 1000, zone)
        due = (now + timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S")
        form = {**c.auth(), "mobile": "13900006666", "content": "x", "time": due}
        assert live.post("/mt/", form).content == SUCCESS
        live.operate(lambda op: op.set_switch(system.PAUSED, True))
        try:
            new = live.get("/mt/", {**c.auth(), "mobile": "13900006667", "content": "x"})
            assert b"stat=111" in new.content
            clock.advance(120_000)  # due by now, but paused: not submitted
            time.sleep(1)  # twenty of the dispatcher's polls, in which nothing may happen
            assert reports(live, c) == []
        finally:
            live.operate(lambda op: op.set_switch(system.PAUSED, False))
        assert [(r[0], r[1]) for r in collect_reports(live, c, 1)] == [("13900006666", "100")]


def test_outages_and_throttling_lose_nothing(live: RunningServer) -> None:
    c = live.customer(balance=1000)
    simulator = live.platform.simulator
    simulator.go_down(3600)  # until brought back below
    numbers = ",".join(f"1380000{i:04d}" for i in range(100, 140))
    assert live.post("/mt/", {**c.auth(), "mobile": numbers, "content": "x"}).content == SUCCESS
    until(lambda: tried(live, "1380000") == 40)  # each met the outage
    simulator.throttle(3600)
    simulator.go_down(0)
    numbers2 = ",".join(f"1381000{i:04d}" for i in range(100, 140))
    assert live.post("/mt/", {**c.auth(), "mobile": numbers2, "content": "y"}).content == SUCCESS
    until(lambda: tried(live, "1381000") == 40)  # each met the throttling
    simulator.throttle(0)
    got = collect_reports(live, c, 80)
    assert len(got) == 80
    assert {r[1] for r in got} == {"100"}
    assert len({r[0] for r in got}) == 80


def test_messages_go_to_the_channel_their_route_names(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _server_settings(
        tmp_path_factory,
        run_dispatcher=True,
        dispatch_poll_s=0.05,
        simulator={"delay_min_s": 0, "delay_max_s": 0},
        channels=[{"name": "unicom", "delay_min_s": 0, "delay_max_s": 0}],
        routes=[{"channel": "unicom", "carriers": ["china_unicom"]}],
    )
    server = RunningServer(settings)
    try:
        c = server.customer()
        form = {**c.auth(), "mobile": "13900008888,18612345678", "content": "x"}
        assert server.post("/mt/", form).content == SUCCESS
        assert len(collect_reports(server, c, 2)) == 2
        assert server.platform.channels["unicom"].status().submitted == 1
        assert server.platform.simulator.status().submitted == 1
    finally:
        server.stop()
