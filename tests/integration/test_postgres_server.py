"""The whole platform over HTTP on PostgreSQL: the same answers as on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from hongyan.store.migrate import upgrade
from tests.conftest import RunningServer, make_settings

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")


@pytest.fixture
def pg_servers(tmp_path: Path, postgres_url: str) -> Iterator[list[RunningServer]]:
    """Two API processes' worth of platform on one PostgreSQL database."""
    from tests.conftest import _reset_postgres

    asyncio.run(_reset_postgres(postgres_url))
    asyncio.run(upgrade(postgres_url))
    settings = make_settings(tmp_path, database_url=postgres_url)
    servers = [RunningServer(settings), RunningServer(settings)]
    yield servers
    for server in servers:
        server.stop()


def test_send_balance_and_records_on_postgresql(pg_servers: list[RunningServer]) -> None:
    server = pg_servers[0]
    c = server.customer(balance=10)
    query = urlencode(
        {**c.auth(), "mobile": "13900008888,1390000test", "content": "发送测试"}, encoding="gbk"
    )
    assert server.http.get(f"/mt/?{query}").content == SUCCESS
    assert server.get("/mm/", c.auth()).text == "sms&stat=100&remain=9"
    records = server.get("/rd/", c.auth()).content.decode("gbk").split("|#|")
    assert records[0] == "2||2||1"
    assert [r.split("||")[1:] for r in records[1:]] == [
        ["1390000test", "发送测试", "112"],
        ["13900008888", "发送测试", "0"],
    ]
    too_many = {**c.auth(), "mobile": ",".join(f"1350000{i:04d}" for i in range(10))}
    assert server.post("/mt/", {**too_many, "content": "x"}).content == (
        "sms&stat=102&message=短信不足".encode("gbk")
    )
    assert server.get("/mm/", c.auth()).text == "sms&stat=100&remain=9"


def test_two_api_processes_charge_one_balance_exactly(pg_servers: list[RunningServer]) -> None:
    c = pg_servers[0].customer(balance=50)
    for server in pg_servers:
        server.on_server(server.platform.gates.refresh())

    def send(i: int) -> bytes:
        server = pg_servers[i % 2]
        params = {**c.auth(), "mobile": f"1370000{i:04d}", "content": "x"}
        return server.get("/mt/", params).content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(80)))
    assert answers.count(SUCCESS) == 50
    assert answers.count("sms&stat=102&message=短信不足".encode("gbk")) == 30
    for server in pg_servers:
        assert server.get("/mm/", c.auth()).text == "sms&stat=100&remain=0"
        assert server.get("/mm/", {**c.auth(), "cmd": "send"}).text == "sms&stat=100&remain=50"
