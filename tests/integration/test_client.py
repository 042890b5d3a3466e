"""The Python SDK (hongyan.client) and its CLI against the real platform on a socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from hongyan.cli.client import client_app
from hongyan.client import (
    BEIJING,
    STAT_TEXTS,
    AccountFrozen,
    AccountLocked,
    ApiSendingDisabled,
    AsyncSmsClient,
    AuthFailed,
    BadNumber,
    BadScheduleTime,
    ContentTooLong,
    EmptyNumberOrContent,
    IllegalCharacters,
    InsufficientBalance,
    IpNotBound,
    Maintenance,
    NoChannel,
    OperationFailed,
    PerNumberLimited,
    RateLimited,
    SendingPaused,
    SmsApiError,
    SmsClient,
    StatusError,
    StatusReport,
    TooManyNumbers,
    TransportError,
    UnexpectedAnswer,
)
from hongyan.store import system
from tests.conftest import Customer, RunningServer
from tests.waiting import WAIT_S

T = TypeVar("T")

_numbers = iter(range(20_000_000, 30_000_000))


def numbers(n: int) -> list[str]:
    """Distinct valid mobiles, never used by another test of this module."""
    return [f"137{next(_numbers):08d}" for _ in range(n)]


def client(server: RunningServer, c: Customer, **options: Any) -> SmsClient:
    return SmsClient(server.url, c.uid, c.password, **options)


def today() -> str:
    return datetime.now(BEIJING).date().isoformat()


def collect(fetch: Callable[[], list[T]], count: int, timeout: float = 20) -> list[T]:
    """Fetch until `count` items came, then once more: nothing further may come."""
    got: list[T] = []
    deadline = time.monotonic() + max(timeout, WAIT_S)
    while len(got) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{len(got)} of {count} within the time allowed")
        got.extend(fetch())
        time.sleep(0.05)
    time.sleep(0.2)
    got.extend(fetch())
    return got


def gateway_of(server: RunningServer, c: Customer, mid: str = "") -> str:
    ext = server.operate(lambda op: op.show(c.uid)).ext_code
    return server.settings.gateway_prefix + ext + mid


# -- sync: send, balance, records ------------------------------------------------------


def test_send_charges_and_shows_in_records(server: RunningServer) -> None:
    c = server.customer(balance=10)
    first, second = numbers(2)
    with client(server, c) as sms:
        result = sms.send([first, second], "您的验证码是 1234", mobileids="given-1")
        assert result.mobiles == (first, second)
        assert result.mobileids[0] == "given-1"
        assert result.mobileids[1].startswith(second) and result.mobileids[1][11:].isdigit()
        assert result.message == "发送成功"
        assert sms.balance() == 8
        assert sms.sent_total() == 2

        page = sms.records()
        assert (page.total, page.pages, page.page, page.has_next) == (2, 1, 1, False)
        assert sorted(r.mobile for r in page.records) == [first, second]
        assert {(r.content, r.status, r.pending) for r in page.records} == {
            ("您的验证码是 1234", "0", True)
        }
        assert all(r.time.tzinfo is BEIJING for r in page.records)
        assert abs(page.records[0].time - datetime.now(UTC)) < timedelta(minutes=1)

        assert [r.mobile for r in sms.records(key=first).records] == [first]
        assert sms.records(date=datetime.now(BEIJING).date()).total == 2
        assert sms.records(date=datetime.now(BEIJING).date() - timedelta(days=3)).total == 0
        empty = sms.records(page=2)
        assert (empty.records, empty.page) == ((), 2)
        assert sms.reports() == []  # no dispatcher here: no reports yet
        assert sms.replies() == []


def test_texts_round_trip_as_the_server_writes_them(server: RunningServer) -> None:
    c = server.customer()
    [number] = numbers(1)
    with SmsClient(server.url, c.uid, pwd=c.pwd) as sms:  # an already hashed pwd
        sms.send(f" {number} ,，", "您好||世界 ①￥5 😀 +&=%")
        [record] = sms.records().records
    assert record.mobile == number
    # `||` comes back full width, the emoji GBK cannot hold as `?`.
    assert record.content == "您好｜｜世界 ①￥5 ? +&=%"


def test_long_message_is_charged_by_parts_and_mid_is_accepted(server: RunningServer) -> None:
    c = server.customer(balance=100)
    with client(server, c) as sms:
        sms.send(numbers(2), "长" * 150, mid="12")
        assert sms.balance() == 100 - 2 * 3
        assert sms.sent_total() == 6


def test_scheduled_send(server: RunningServer) -> None:
    c = server.customer()
    with client(server, c) as sms:
        in_an_hour = datetime.now(UTC) + timedelta(hours=1)
        sms.send(numbers(1), "稍后", at=in_an_hour)  # aware: converted to Beijing time
        sms.send(numbers(1), "稍后", at=datetime.now(BEIJING).replace(tzinfo=None))  # naive
        assert sms.balance() == 998
        with pytest.raises(BadScheduleTime) as caught:
            sms.send(numbers(1), "太晚", at=in_an_hour + timedelta(days=60))
        assert (caught.value.stat, caught.value.message) == (113, "定时时间格式不对")
        assert sms.balance() == 998


def test_invalid_numbers_in_a_request_are_not_charged(server: RunningServer) -> None:
    c = server.customer(balance=5)
    [good] = numbers(1)
    with client(server, c) as sms:
        result = sms.send([good, "1390000test"], "x")
        assert result.mobileids[1].startswith("1390000test")
        assert sms.balance() == 4
        statuses = {r.mobile: r.status for r in sms.records().records}
    assert statuses == {good: "0", "1390000test": "112"}


def test_a_number_with_a_line_break_does_not_break_the_reports(server: RunningServer) -> None:
    """An invalid entry's report carries the entry with its control characters
    made `?`, so its /st/ line stays one line (the SDK would also rejoin one)."""
    c = server.customer()
    [good] = numbers(1)
    with client(server, c) as sms:
        result = sms.send([good, "12\n34"], "x")
        [report] = sms.reports()  # the invalid entry's immediate failed report
    assert (report.mobile, report.status) == ("12?34", "112")
    assert report.mobileid == result.mobileids[1]


# -- async -------------------------------------------------------------------------------


async def test_async_client_sends_concurrently(server: RunningServer) -> None:
    c = server.customer(balance=20)
    async with AsyncSmsClient(server.url, c.uid, c.password) as sms:
        results = await asyncio.gather(*(sms.send(n, "并发") for n in numbers(5)))
        assert len({r.mobileids[0] for r in results}) == 5
        assert await sms.balance() == 15
        assert await sms.sent_total() == 5
        page = await sms.records(page=1, date=datetime.now(BEIJING).date())
        assert page.total == 5
        assert await sms.reports() == []
        assert await sms.replies() == []
        with pytest.raises(InsufficientBalance):
            await sms.send(numbers(16), "x")
    bad = AsyncSmsClient(server.url, c.uid, "wrong")
    try:
        for call in (bad.balance, bad.sent_total, bad.reports, bad.replies, bad.records):
            with pytest.raises(AuthFailed):
                await call()
    finally:
        await bad.aclose()


async def test_async_transport_error(server: RunningServer) -> None:
    async with AsyncSmsClient("http://127.0.0.1:9", "u", "p", timeout=2) as sms:
        with pytest.raises(TransportError) as caught:
            await sms.balance()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


# -- reports and replies through the dispatcher ----------------------------------------


def test_reports_and_replies_sync(live: RunningServer) -> None:
    c = live.customer(balance=100)
    good, failing = numbers(1)[0], "13900000000"
    with client(live, c) as sms:
        result = sms.send([good, failing, "1390000test"], "您好", mobileids="a1")
        ids = dict(zip(result.mobiles, result.mobileids, strict=True))
        got = collect(sms.reports, 3)
        assert sorted((r.mobile, r.status, r.mobileid) for r in got) == sorted(
            [
                (good, "100", "a1"),
                (failing, "UNDELIV", ids[failing]),
                ("1390000test", "112", ids["1390000test"]),
            ]
        )
        assert {r.mobile for r in got if r.delivered} == {good}
        assert all(isinstance(r, StatusReport) and r.time.tzinfo is BEIJING for r in got)
        assert {r.mobile: r.status for r in sms.records().records}[failing] == "UNDELIV"

        before = datetime.now(BEIJING) - timedelta(seconds=2)
        gateway = gateway_of(live, c, "12")
        live.on_server(live.platform.simulator.inject_reply(good, gateway, "好的||收到{&}"))
        [reply] = sms.replies()
        assert (reply.mobile, reply.content, reply.gateway) == (good, "好的｜｜收到｛＆｝", gateway)
        assert abs(reply.time - datetime.now(UTC)) < timedelta(minutes=1)
        assert sms.replies() == []  # handed out once
        assert sms.replies(since=before) == [reply]  # fetched again by time
        assert sms.replies(since=datetime.now(BEIJING) + timedelta(minutes=1)) == []


async def test_reports_and_replies_async(live: RunningServer) -> None:
    c = live.customer()
    async with AsyncSmsClient(live.url, c.uid, c.password) as sms:
        result = await sms.send(numbers(3), "异步")
        got: list[StatusReport] = []
        deadline = time.monotonic() + WAIT_S
        while len(got) < 3 and time.monotonic() < deadline:
            got.extend(await sms.reports())
            await asyncio.sleep(0.05)
        assert sorted(r.mobileid for r in got) == sorted(result.mobileids)
        assert {r.status for r in got} == {"100"}
        assert (await sms.records()).records[0].delivered
        live.on_server(
            live.platform.simulator.inject_reply(result.mobiles[0], gateway_of(live, c), "嗯")
        )
        replies = await sms.replies()
        assert [(r.mobile, r.content) for r in replies] == [(result.mobiles[0], "嗯")]


# -- every error class ---------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["send", "reports", "replies", "balance", "sent", "records"])
def test_auth_failed_on_every_endpoint(server: RunningServer, endpoint: str) -> None:
    c = server.customer()  # one each: five failures would lock the uid (114)
    with SmsClient(server.url, c.uid, "not-the-password") as sms:
        calls: dict[str, Callable[[], object]] = {
            "send": lambda: sms.send(numbers(1), "x"),
            "reports": sms.reports,
            "replies": sms.replies,  # /rx/ answers a bare `101`
            "balance": sms.balance,
            "sent": sms.sent_total,
            "records": sms.records,
        }
        with pytest.raises(AuthFailed) as caught:
            calls[endpoint]()
    assert (caught.value.stat, caught.value.message, str(caught.value)) == (
        101,
        "验证失败",
        "101 验证失败",
    )


def _switched(server: RunningServer, name: str, action: Callable[[], None]) -> None:
    server.operate(lambda op: op.set_switch(name, True))
    try:
        action()
    finally:
        server.operate(lambda op: op.set_switch(name, False))


def _lock(server: RunningServer, c: Customer) -> None:
    with SmsClient(server.url, c.uid, "wrong") as bad:
        for _ in range(5):
            with pytest.raises(AuthFailed):
                bad.balance()


def _send_twice(sms: SmsClient, mobile: str | None = None) -> None:
    for _ in range(2):
        sms.send(mobile or numbers(1)[0], "x")


def _past_the_sdk_limit(sms: SmsClient) -> None:
    sms.max_numbers = 5000  # past the SDK's own check, to hear the server's 106
    sms.send(numbers(2001), "x")


Arrange = Callable[[RunningServer, Customer], object]
Request = Callable[[SmsClient], object]

# Each refusal our server gives: the account's options, what is done to the
# account first, and the request that meets the refusal.
CASES: list[tuple[type[StatusError], dict[str, Any], Arrange | None, Request]] = [
    (InsufficientBalance, {"balance": 0}, None, lambda sms: sms.send(numbers(1), "x")),
    # a body over the server's limit (4 MiB)
    (OperationFailed, {}, None, lambda sms: sms.send(numbers(1), "a" * (4 * 1024 * 1024 + 1))),
    (IllegalCharacters, {}, None, lambda sms: sms.send(numbers(1), "发送\x01测试")),
    (ContentTooLong, {}, None, lambda sms: sms.send(numbers(1), "长" * 501)),
    (TooManyNumbers, {}, None, _past_the_sdk_limit),
    (RateLimited, {"rate": "1"}, None, _send_twice),
    (EmptyNumberOrContent, {}, None, lambda sms: sms.send(numbers(1), "")),
    (
        AccountFrozen,
        {},
        lambda s, c: s.operate(lambda op: op.set_frozen(c.uid, True)),
        lambda sms: sms.balance(),
    ),
    (PerNumberLimited, {"per_number": "1/30s"}, None, lambda sms: _send_twice(sms, "13712345678")),
    (BadNumber, {}, None, lambda sms: sms.send("12345,1390000test", "x")),
    (
        BadScheduleTime,
        {},
        None,
        lambda sms: sms.send(numbers(1), "x", at=datetime.now(BEIJING) + timedelta(days=31)),
    ),
    (AccountLocked, {}, _lock, lambda sms: sms.replies()),
    (
        ApiSendingDisabled,
        {},
        lambda s, c: s.operate(lambda op: op.set_api_send(c.uid, False)),
        lambda sms: sms.send(numbers(1), "x"),
    ),
    (
        IpNotBound,
        {},
        lambda s, c: s.operate(lambda op: op.bind_address(c.uid, "10.9.9.9")),
        lambda sms: sms.records(),
    ),
]


@pytest.mark.parametrize(
    ("error", "options", "arrange", "request_"), CASES, ids=[c[0].__name__ for c in CASES]
)
def test_each_refusal_raises_its_class(
    server: RunningServer,
    error: type[StatusError],
    options: dict[str, Any],
    arrange: Arrange | None,
    request_: Request,
) -> None:
    c = server.customer(**options)
    if arrange is not None:
        arrange(server, c)
    with client(server, c) as sms, pytest.raises(error) as caught:
        request_(sms)
    assert type(caught.value) is error
    assert (caught.value.stat, caught.value.message) == (error.code, STAT_TEXTS[error.code])
    assert isinstance(caught.value, SmsApiError)


@pytest.mark.parametrize(
    ("error", "switch"), [(Maintenance, system.MAINTENANCE), (SendingPaused, system.PAUSED)]
)
def test_platform_switches(server: RunningServer, error: type[StatusError], switch: str) -> None:
    c = server.customer()

    def meet() -> None:
        with client(server, c) as sms, pytest.raises(error):
            sms.send(numbers(1), "x")

    _switched(server, switch, meet)


def _mock(status: int, body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body))


def test_answers_our_server_never_gives() -> None:
    """115 (no channel), an unknown code, a non-protocol body, a proxy's error page."""

    def answering(status: int, body: bytes, call: Callable[[SmsClient], object]) -> None:
        with SmsClient("http://sms.example", "u", "p", transport=_mock(status, body)) as sms:
            call(sms)

    with pytest.raises(NoChannel) as no_channel:
        answering(200, "sms&stat=115&message=连接失败".encode("gbk"), lambda s: s.send("1", "x"))
    assert str(no_channel.value) == "115 连接失败"
    with pytest.raises(StatusError) as unknown:
        answering(200, "sms&stat=118&message=新错误".encode("gbk"), SmsClient.balance)
    assert type(unknown.value) is StatusError
    assert (unknown.value.stat, unknown.value.message) == (118, "新错误")
    with pytest.raises(UnexpectedAnswer) as html:
        answering(200, b"<html>hello</html>", SmsClient.balance)
    assert html.value.body == b"<html>hello</html>"
    with pytest.raises(TransportError) as bad_gateway:
        answering(502, b"<html>Bad Gateway</html>", SmsClient.reports)
    assert bad_gateway.value.status_code == 502
    with pytest.raises(Maintenance):  # an error status that carries a refusal is the refusal
        answering(503, "sms&stat=120&message=系统升级".encode("gbk"), SmsClient.records)


def test_what_the_client_posts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content="sms&stat=100&message=发送成功".encode("gbk"))

    with SmsClient(
        "http://sms.example/base/", "test", "123123", transport=httpx.MockTransport(handler)
    ) as sms:
        at = datetime(2030, 5, 27, 4, 1, tzinfo=UTC)
        sms.send(["13900008888", "02185418874"], "发送 测试&", mobileids=["x1"], mid="7", at=at)
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "http://sms.example/base/mt/")
    form = dict(httpx.QueryParams(request.content.decode("ascii")))
    assert form.pop("mobileids").split(",")[0] == "x1"
    assert form == {
        "uid": "test",
        "pwd": "b9887c5ebb23ebb294acab183ecf0769",
        "mobile": "13900008888,02185418874",
        "content": "发送 测试&",
        "encode": "utf8",
        "mid": "7",
        "time": "2030-05-27 12:01",
    }


def test_transport_errors_are_wrapped() -> None:
    with (
        SmsClient("http://127.0.0.1:9", "u", "p", timeout=2) as sms,
        pytest.raises(TransportError) as caught,
    ):
        sms.send("13900008888", "x")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.stat is None


# -- the CLI ---------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(client_app, list(args))


def test_cli_commands(live: RunningServer) -> None:
    c = live.customer(balance=50)
    auth = ["--url", live.url, "--uid", c.uid, "--password", c.password]
    first, second = numbers(2)

    sent = run(
        "send",
        *auth,
        "--mobile",
        f"{first},{second}",
        "--content",
        "命令行 测试",
        "--mobileids",
        "k1",
    )
    assert sent.exit_code == 0, sent.output
    lines = sent.stdout.splitlines()
    assert lines[0] == f"{first}\tk1"
    assert lines[1].startswith(f"{second}\t{second}")

    assert run("balance", *auth).stdout == "48\n"
    assert run("sent", "--url", live.url, "--uid", c.uid, "--pwd", c.pwd).stdout == "2\n"

    rows = collect(
        lambda: [line.split("\t") for line in run("reports", *auth).stdout.splitlines()], 2
    )
    assert sorted((r[1], r[2]) for r in rows) == sorted([(first, "100"), (second, "100")])
    assert {r[1]: r[3] for r in rows}[first] == "k1"
    assert all(datetime.strptime(r[0], "%Y-%m-%d %H:%M:%S") for r in rows)
    reports = run("reports", *auth)
    assert reports.exit_code == 0 and reports.stdout == ""  # all handed out above
    records = run("records", *auth, "--date", today(), "--key", first)
    assert records.exit_code == 0
    head, *rows = records.stdout.splitlines()
    assert head == "total 1, page 1 of 1"
    assert [row.split("\t")[1:] for row in rows] == [[first, "100", "命令行 测试"]]

    live.on_server(
        live.platform.simulator.inject_reply(first, gateway_of(live, c), "第一行\n第二行")
    )
    replies = run("replies", *auth)
    [line] = replies.stdout.splitlines()
    assert line.split("\t")[1:] == [first, gateway_of(live, c), "第一行\\n第二行"]
    assert run("replies", *auth).stdout == ""
    again = run(
        "replies",
        *auth,
        "--since",
        (datetime.now(BEIJING) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"),
    )
    assert again.stdout == replies.stdout

    scheduled = run(
        "send",
        *auth,
        "--mobile",
        numbers(1)[0],
        "--content",
        "x",
        "--mid",
        "3",
        "--at",
        "2000-01-01 00:00",
    )
    assert scheduled.exit_code == 0, scheduled.output


def test_cli_errors(server: RunningServer) -> None:
    c = server.customer(balance=0)
    auth = ["--url", server.url, "--uid", c.uid]
    refused = run("balance", *auth, "--password", "wrong")
    assert refused.exit_code == 1
    assert refused.stderr == "error: 101 验证失败\n"
    assert run("replies", *auth, "--password", "wrong").stderr == "error: 101 验证失败\n"
    poor = run("send", *auth, "--password", c.password, "--mobile", numbers(1)[0], "--content", "x")
    assert (poor.exit_code, poor.stderr) == (1, "error: 102 短信不足\n")
    neither = run("balance", *auth)
    assert (neither.exit_code, neither.stderr) == (
        1,
        "error: give one of --password and --pwd (or SMS_API_PASSWORD, SMS_API_PWD)\n",
    )
    unreachable = run("balance", "--url", "http://127.0.0.1:9", "--uid", "u", "--password", "p")
    assert unreachable.exit_code == 1
    assert unreachable.stderr.startswith("error: POST http://127.0.0.1:9/mm/: ConnectError")
    empty = run("records", *auth, "--password", c.password)
    assert (empty.exit_code, empty.stdout) == (0, "no records on page 1\n")
