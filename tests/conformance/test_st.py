"""/st/ status reports by pull (spec §5.1, PROTOCOL.md "/st/ status reports")."""

from __future__ import annotations

import re

from tests.conftest import RunningServer

LINE = re.compile(
    r"(?P<mobile>[^,]+),(?P<status>[^,]+),(?P<mobileid>[^,]+),"
    r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"
)


def lines(body: bytes) -> list[dict[str, str]]:
    if not body:
        return []
    parsed = []
    for line in body.decode("gbk").split("\n"):
        match = LINE.fullmatch(line)
        assert match, line
        parsed.append(match.groupdict())
    return parsed


def test_a_refused_number_is_reported_once_with_its_mobileid(server: RunningServer) -> None:
    c = server.customer()
    sent = server.get(
        "/mt/",
        {
            **c.auth(),
            "mobile": "13900008888,1390000test,13100006666",
            "mobileids": "1390000888812869461937,1390000test12869461937,1310000666612869461937",
            "content": "x",
        },
    )
    assert sent.content == "sms&stat=100&message=发送成功".encode("gbk")
    first = server.get("/st/", c.auth())
    assert first.headers["content-type"] == "text/plain; charset=GBK"
    reports = lines(first.content)
    assert [(r["mobile"], r["status"], r["mobileid"]) for r in reports] == [
        ("1390000test", "112", "1390000test12869461937")
    ]
    assert not first.content.endswith(b"\n")
    assert server.get("/st", c.auth()).content == b""  # handed out once
    assert server.post("/st/", c.auth()).content == b""


def test_at_most_500_a_call_in_arrival_order(server: RunningServer) -> None:
    c = server.customer()
    for batch in range(2):
        numbers = ["13900008888"] + [f"x{batch}-{i:03d}" for i in range(300)]
        answer = server.post("/mt/", {**c.auth(), "mobile": ",".join(numbers), "content": "x"})
        assert answer.content == "sms&stat=100&message=发送成功".encode("gbk")
    calls = [lines(server.get("/st/", c.auth()).content) for _ in range(3)]
    assert [len(call) for call in calls] == [500, 100, 0]
    mobiles = [r["mobile"] for call in calls for r in call]
    assert mobiles == [f"x{b}-{i:03d}" for b in range(2) for i in range(300)]


def test_errors_are_protocol_answers(server: RunningServer) -> None:
    c = server.customer()
    wrong = server.get("/st/", {"uid": c.uid, "pwd": "0" * 32})
    assert wrong.content == "sms&stat=101&message=验证失败".encode("gbk")
    server.operate(lambda op: op.set_frozen(c.uid, True))
    assert server.get("/st/", c.auth()).content == "sms&stat=109&message=账号冻结".encode("gbk")


def test_reports_are_per_account(server: RunningServer) -> None:
    a, b = server.customer(), server.customer()
    server.get("/mt/", {**a.auth(), "mobile": "13900008888,bad", "content": "x"})
    assert server.get("/st/", b.auth()).content == b""
    assert len(lines(server.get("/st/", a.auth()).content)) == 1
