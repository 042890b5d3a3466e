"""What a push sends, and how hard push tries: pure functions, no sockets."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

import pytest

from hongyan.push import payload
from hongyan.push.policy import Breaker, PushSettings


def test_a_reply_is_the_documents_form_in_gbk() -> None:
    form = payload.reply_form("test", "2026-11-25 10:00:00", "13900008888", "发送测试", "10690123")
    assert form == (
        b"cmd=res&uid=test&time=2026-11-25+10%3A00%3A00&mobile=13900008888"
        b"&content=%B7%A2%CB%CD%B2%E2%CA%D4&gateway=10690123"
    )


def test_a_report_carries_the_mobileid_and_status() -> None:
    form = payload.report_form("test", "1390000888812869461937", "13900008888", "100", "t")
    assert form == (
        b"cmd=status&uid=test&mobileids=1390000888812869461937&mobile=13900008888&status=100&time=t"
    )


def test_separators_and_characters_beyond_gbk_survive() -> None:
    text = "a&b=c 100%\n😀"
    form = payload.reply_form("u", "t", "1", text, "g")
    assert dict(parse_qsl(form.decode(), encoding="gb18030"))["content"] == text


def test_a_get_puts_the_form_in_the_query_and_signs_it() -> None:
    form = payload.report_form("u", "m", "1", "100", "t")
    request = payload.build_request("http://h/cb?key=1", "GET", [form], "s" * 16, 1700000000)
    assert request.method == "GET" and request.body == b""
    assert request.url == "http://h/cb?key=1&" + form.decode()
    expected = hmac.new(b"s" * 16, b"1700000000." + form, hashlib.sha256).hexdigest()
    assert request.headers == {
        "X-Hongyan-Timestamp": "1700000000",
        "X-Hongyan-Signature": expected,
    }


def test_a_batched_post_is_one_form_a_line_unsigned_without_secret() -> None:
    forms = [payload.report_form("u", str(i), "1", "100", "t") for i in range(3)]
    request = payload.build_request("https://h/cb", "POST", forms, "", 1)
    assert request.body == b"\n".join(forms)
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded; charset=GBK"}
    with pytest.raises(ValueError):
        payload.build_request("https://h/cb", "GET", forms, "", 1)


def test_the_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = Breaker(failures_to_open=3, open_s=10, max_open_s=25)
    assert not breaker.failed(0) and not breaker.failed(1)
    assert breaker.allows(1)
    assert breaker.failed(2)  # third in a row: open until 12
    assert breaker.is_open(5) and not breaker.allows(5)
    assert breaker.allows(12)  # the probe
    assert not breaker.allows(12)  # one at a time
    assert breaker.failed(13)  # the probe failed: open twice as long
    assert breaker.open_until == 33
    assert breaker.allows(33)
    assert breaker.failed(34) and breaker.open_until == 34 + 25  # at most max_open_s
    assert breaker.allows(60)
    assert breaker.succeeded()  # closed again: it had been open
    assert breaker.allows(60) and not breaker.is_open(60)
    assert not breaker.succeeded()


def test_a_probe_that_says_nothing_about_the_host_lets_the_next_probe_go() -> None:
    breaker = Breaker(failures_to_open=1, open_s=1, max_open_s=1)
    breaker.failed(0)
    assert breaker.allows(2) and not breaker.allows(2)
    breaker.inconclusive()  # e.g. the URL was refused before connecting
    assert breaker.allows(2)


def test_a_success_resets_the_count_of_failures() -> None:
    breaker = Breaker(failures_to_open=2, open_s=1, max_open_s=1)
    breaker.failed(0)
    breaker.succeeded()
    assert not breaker.failed(0)


def test_allowed_networks_must_be_ranges() -> None:
    with pytest.raises(ValueError):
        PushSettings(allowed_networks=("not-a-range",))
    assert [str(n) for n in PushSettings(allowed_networks=("127.0.0.1",)).networks()] == [
        "127.0.0.1/32"
    ]
