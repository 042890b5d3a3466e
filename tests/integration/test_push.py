"""Push: reports and replies reach the customer's server at least once (PROTOCOL.md "Push").

The receiver is a real HTTP server on loopback (`hongyan.testing.PushReceiver`)
that can answer 500, redirect, hang or close the connection, and recover.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hongyan.errors import InvalidInput
from hongyan.store.schema import accounts, reports
from hongyan.testing import CLOSE, FAIL, HANG, OK, REDIRECT, PushReceiver
from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.test_crash import until

SUCCESS = "sms&stat=100&message=发送成功".encode("gbk")
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
SECRET = "a-secret-of-the-customer"

PUSH = {
    "run": True,
    "allowed_networks": ["127.0.0.1/32"],
    "poll_s": 0.05,
    "retry_base_s": 0.05,
    "retry_max_s": 0.3,
    "timeout_s": 0.5,
    "connect_timeout_s": 0.5,
    "breaker_failures": 3,
    "breaker_open_s": 0.2,
    "breaker_max_open_s": 0.5,
    "lease_s": 3,
    "dns_cache_s": 0,
}


@pytest.fixture(scope="module")
def pushing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = live_server(tmp_path_factory, push=PUSH)
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver().start()
    yield r
    r.stop()


def send(server: RunningServer, c: Customer, mobiles: list[str], ids: list[str], text: str) -> None:
    answer = server.post(
        "/mt/",
        {
            **c.auth(),
            "mobile": ",".join(mobiles),
            "mobileids": ",".join(ids),
            "content": text,
            "encode": "utf8",
        },
    )
    assert answer.content == SUCCESS, answer.content.decode("gbk", "replace")


def reports_of(forms: list[dict[str, str]]) -> list[dict[str, str]]:
    return [f for f in forms if f.get("cmd") == "status"]


def pulled(server: RunningServer, c: Customer, path: str) -> bytes:
    return server.get(path, c.auth()).content


def test_reports_and_replies_are_pushed_in_the_documents_form(
    pushing: RunningServer, receiver: PushReceiver
) -> None:
    c = pushing.customer()
    pushing.operate(lambda op: op.set_push(c.uid, replies=receiver.url, reports=receiver.url))
    send(pushing, c, ["13900008888", "1390000test", "13900000000"], ["a1", "a2", "a3"], "验证码 1")
    until(lambda: len(reports_of(receiver.forms())) >= 3, 30, "three reports pushed")
    got = {f["mobileids"]: f for f in reports_of(receiver.forms())}
    assert {k: (v["mobile"], v["status"]) for k, v in got.items()} == {
        "a1": ("13900008888", "100"),
        "a2": ("1390000test", "112"),  # refused at acceptance: its report is pushed too
        "a3": ("13900000000", "UNDELIV"),
    }
    for form in got.values():
        assert list(form) == ["cmd", "uid", "mobileids", "mobile", "status", "time"]
        assert form["uid"] == c.uid and TIME.fullmatch(form["time"])

    summary = pushing.operate(lambda op: op.show(c.uid))
    gateway = pushing.operate(
        lambda op: op.inject_reply("13900008888", "收到，谢谢 ||{&}", uid=c.uid)
    )[0]
    until(lambda: any(f.get("cmd") == "res" for f in receiver.forms()), 30, "reply pushed")
    (reply,) = [f for f in receiver.forms() if f["cmd"] == "res"]
    assert list(reply) == ["cmd", "uid", "time", "mobile", "content", "gateway"]
    assert reply["content"] == "收到，谢谢 ||{&}" and reply["mobile"] == "13900008888"
    assert reply["gateway"] == gateway and gateway.endswith(summary.ext_code)
    # On the wire: GET, GBK percent-encoded, as the document's 6.2 table.
    push = next(p for p in receiver.received if "cmd=res" in p.target)
    assert push.method == "GET" and urlsplit(push.target).path == "/push"
    assert "content=%CA%D5%B5%BD%A3%AC%D0%BB%D0%BB+%7C%7C%7B%26%7D" in push.target
    assert "x-hongyan-signature" not in push.headers  # no secret, no signature

    # Pushed items are not handed out again by the pull endpoints.
    assert pulled(pushing, c, "/st/") == b""
    assert pulled(pushing, c, "/rx/") == b""
    metrics = pushing.get("/metrics").text
    delivered = re.search(
        r'hongyan_push_attempts_total\{kind="report",outcome="delivered"\} (\d+)', metrics
    )
    assert delivered and int(delivered.group(1)) >= 3
    assert "hongyan_push_oldest_queued_seconds" in metrics


def test_signed_post_can_be_verified_by_the_customer(
    pushing: RunningServer, receiver: PushReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    c = pushing.customer()
    pushing.operate(
        lambda op: op.set_push(c.uid, reports=receiver.url, method="POST", secret=SECRET)
    )
    send(pushing, c, ["13900008888"], ["s1"], "hello")
    until(lambda: len(receiver.received) >= 1, 30, "a signed push")
    push = receiver.received[0]
    assert push.method == "POST"
    assert push.headers["content-type"] == "application/x-www-form-urlencoded; charset=GBK"
    stamp = push.headers["x-hongyan-timestamp"]
    assert abs(int(stamp) - time.time()) < 300
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + push.body, hashlib.sha256)
    assert push.headers["x-hongyan-signature"] == expected.hexdigest()
    assert push.forms()[0]["mobileids"] == "s1"
    # Failures are logged with what went wrong, never with the secret.
    receiver.mode = FAIL
    send(pushing, c, ["13900008888"], ["s2"], "hello")
    until(lambda: receiver.attempts >= 3, 30, "failed signed pushes")
    assert SECRET not in caplog.text
    receiver.mode = OK
    # Replies stay with /rx/: only reports were configured.
    pushing.operate(lambda op: op.inject_reply("13900008888", "hi", uid=c.uid))
    assert b"hi" in pulled(pushing, c, "/rx/")


def test_batched_reports_several_lines_a_post(
    pushing: RunningServer, receiver: PushReceiver
) -> None:
    c = pushing.customer()
    pushing.operate(lambda op: op.set_push(c.uid, reports=receiver.url, method="POST", batch=True))
    receiver.mode = FAIL  # let reports pile up, then take them in batches
    mobiles = [f"1390000{i:04d}" for i in range(1, 301)]
    send(pushing, c, mobiles, [f"b{i}" for i in range(300)], "batch")
    until(lambda: receiver.attempts >= 3, 30, "failing pushes")
    receiver.mode = OK
    until(lambda: len(receiver.forms()) >= 300, 30, "all 300 reports")
    assert {f["mobileids"] for f in receiver.forms()} == {f"b{i}" for i in range(300)}
    assert max(len(p.forms()) for p in receiver.received) > 1


def account_reports_in_order(server: RunningServer, uid: str) -> list[str]:
    async def query() -> list[str]:
        async with server.platform.db.read() as conn:
            rows = await conn.execute(
                select(reports.c.mobileid)
                .join(accounts, accounts.c.id == reports.c.account_id)
                .where(accounts.c.uid == uid)
                .order_by(reports.c.id)
            )
            return [row[0] for row in rows]

    return server.on_server(query())


def test_receiver_that_fails_hangs_and_closes_loses_nothing(
    pushing: RunningServer, receiver: PushReceiver
) -> None:
    """Every report and reply arrives at least once; where healthy, in order per account."""
    customers = [pushing.customer() for _ in range(3)]
    for c in customers:
        pushing.operate(
            lambda op, c=c: op.set_push(c.uid, replies=receiver.url, reports=receiver.url)
        )
    expected: dict[str, set[str]] = {c.uid: set() for c in customers}
    phases = [FAIL, HANG, CLOSE, REDIRECT, OK]
    for round_, mode in enumerate(phases):
        receiver.mode = mode
        for c in customers:
            ids = [f"{c.uid}-{round_}-{i}" for i in range(40)]
            mobiles = [f"139{round_}{i:03d}5555" for i in range(40)]
            send(pushing, c, mobiles, ids, f"round {round_}")
            pushing.operate(
                lambda op, c=c, r=round_: op.inject_reply("13900001111", f"r{r}", uid=c.uid)
            )
            expected[c.uid].update(ids)
            expected[c.uid].add(f"reply r{round_}")
        if mode != OK:
            before = receiver.attempts
            until(lambda b=before: receiver.attempts > b + 2, 30, f"pushes meet {mode}")

    def arrived() -> dict[str, set[str]]:
        got: dict[str, set[str]] = {c.uid: set() for c in customers}
        for form in receiver.forms():
            key = form["mobileids"] if form["cmd"] == "status" else f"reply {form['content']}"
            got[form["uid"]].add(key)
        return got

    until(lambda: arrived() == expected, 60, "every report and reply pushed")
    assert all(pulled(pushing, c, "/st/") == b"" for c in customers)

    # A healthy receiver sees each account's items in the order they were made.
    receiver.received.clear()
    for c in customers:
        send(pushing, c, [f"1380000{i:04d}" for i in range(60)], [f"o{i}" for i in range(60)], "o")
    until(lambda: len(receiver.forms()) >= 180, 30, "ordered round")
    for c in customers:
        pushed = [f["mobileids"] for f in receiver.forms() if f["uid"] == c.uid]
        made = [m for m in account_reports_in_order(pushing, c.uid) if m.startswith("o")]
        assert pushed == made


def test_a_hanging_server_does_not_hold_up_another_account(pushing: RunningServer) -> None:
    hanging, healthy = PushReceiver(mode=HANG).start(), PushReceiver().start()
    try:
        slow, fast = pushing.customer(), pushing.customer()
        pushing.operate(lambda op: op.set_push(slow.uid, reports=hanging.url))
        pushing.operate(lambda op: op.set_push(fast.uid, reports=healthy.url))
        send(pushing, slow, [f"1391111{i:04d}" for i in range(200)], [], "slow")
        until(lambda: hanging.attempts > 0, 30, "the hanging server is called")
        send(pushing, fast, [f"1392222{i:04d}" for i in range(200)], [], "fast")
        until(lambda: len(healthy.forms()) >= 200, 30, "the healthy account's reports")
        assert hanging.received == []
        rows = pushing.operate(lambda op: op.push_status(slow.uid))
        assert rows[0].queued + rows[0].retrying == 200
    finally:
        hanging.stop()
        healthy.stop()


def test_redirects_are_not_followed(pushing: RunningServer, receiver: PushReceiver) -> None:
    c = pushing.customer()
    pushing.operate(lambda op: op.set_push(c.uid, reports=receiver.url))
    receiver.mode = REDIRECT
    send(pushing, c, ["13900008888"], ["r1"], "hello")
    until(lambda: receiver.attempts >= 2, 30, "retries after a redirect")
    (row,) = pushing.operate(lambda op: op.push_status(c.uid))
    assert row.retrying == 1 and "redirect" in row.last_error
    assert receiver.received == []


def test_given_up_items_go_back_to_pull(
    tmp_path_factory: pytest.TempPathFactory, receiver: PushReceiver
) -> None:
    server = live_server(tmp_path_factory, push={**PUSH, "give_up_s": 0.5})
    try:
        receiver.mode = FAIL
        c = server.customer()
        server.operate(lambda op: op.set_push(c.uid, replies=receiver.url, reports=receiver.url))
        send(server, c, ["13900008888"], ["g1"], "hello")
        server.operate(lambda op: op.inject_reply("13900008888", "回复", uid=c.uid))

        def given_up() -> bool:
            rows = server.operate(lambda op: op.push_status(c.uid))
            return sum(r.given_up for r in rows) == 2

        until(given_up, 30, "both items given up")
        assert pulled(server, c, "/st/").decode("gbk").split(",")[:3] == [
            "13900008888",
            "100",
            "g1",
        ]
        assert "回复" in pulled(server, c, "/rx/").decode("gbk")
        assert receiver.received == []
    finally:
        server.stop()


def test_push_off_returns_queued_items_to_pull(
    pushing: RunningServer, receiver: PushReceiver
) -> None:
    receiver.mode = FAIL
    c = pushing.customer()
    pushing.operate(lambda op: op.set_push(c.uid, reports=receiver.url))
    send(pushing, c, ["13900008888", "13900008889"], ["f1", "f2"], "hello")
    until(lambda: receiver.attempts >= 2, 30, "failing pushes")
    pushing.operate(lambda op: op.push_off(c.uid))
    got: list[str] = []

    def both() -> bool:
        body = pulled(pushing, c, "/st/").decode("gbk")
        got.extend(line.split(",")[2] for line in body.split("\n") if body)
        return len(got) >= 2

    until(both, 30, "reports back on /st/")
    assert sorted(got) == ["f1", "f2"]
    assert pushing.operate(lambda op: op.push_target(c.uid)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/push",
        "http://192.168.1.10:8080/push",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/push",
        "http://127.0.0.2/push",  # loopback outside the range the tests allow
        "http://[fd00::1]/push",
        "http://224.0.0.1/push",
        "ftp://example.com/push",
        "http://user:pass@example.com/push",
        "javascript:alert(1)",
    ],
)
def test_private_and_odd_urls_are_refused_at_configuration(
    pushing: RunningServer, url: str
) -> None:
    c = pushing.customer()
    with pytest.raises(InvalidInput):
        pushing.operate(lambda op: op.set_push(c.uid, reports=url))
    assert pushing.operate(lambda op: op.push_target(c.uid)) is None


@pytest.mark.parametrize(
    "options",
    [
        {"method": "PUT"},
        {"batch": True},  # batches are POSTs
        {"secret": "short"},
    ],
)
def test_bad_push_options_are_refused(
    pushing: RunningServer, receiver: PushReceiver, options: dict[str, Any]
) -> None:
    c = pushing.customer()
    with pytest.raises(InvalidInput):
        pushing.operate(lambda op: op.set_push(c.uid, reports=receiver.url, **options))
