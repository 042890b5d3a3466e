"""The access log under hostile input (issue 11 items 1 and 3): a secret is
redacted whatever the encoding of its name, and every field a client controls
is cut to a bound."""

from __future__ import annotations

import logging

import pytest

from tests.conformance.support import raw_request, remain_answer
from tests.conftest import RunningServer, raw_http
from tests.integration.hostile import wait_for


def access_records(caplog: pytest.LogCaptureFixture, marker: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "hongyan.access" and marker in getattr(r, "query", "")
    ]


@pytest.mark.parametrize(
    "name", ["p%77d", "pwd+", "%70%77%64", "PwD%20%20", "+pwd", "PWD", "P%57d"]
)
def test_a_pwd_however_its_name_is_encoded_is_redacted(
    server: RunningServer, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    caplog.set_level(logging.INFO, logger="hongyan.access")
    customer = server.customer(balance=3)
    marker = f"m{abs(hash(name))}"
    response = server.http.get(f"/mm/?uid={customer.uid}&{name}={customer.pwd}&mark={marker}")
    assert response.content == remain_answer(3)  # it did authenticate as `pwd`
    [record] = wait_for(lambda: access_records(caplog, marker), "the access log line")
    assert customer.pwd not in record.query
    assert f"{name}=***" in record.query


@pytest.mark.parametrize("name", [b"pwd\xa1\xa1", "密码pwd".encode("gbk"), b"\xc3\xdcpwd"])
def test_a_secret_name_with_raw_gbk_bytes_is_redacted(
    server: RunningServer, caplog: pytest.LogCaptureFixture, name: bytes
) -> None:
    """Raw GBK in a URL (real clients send it) reaches the log percent-escaped;
    a name that holds `pwd` among such bytes hides its value, and itself."""
    caplog.set_level(logging.INFO, logger="hongyan.access")
    marker = f"g{name.hex()}"
    target = b"/mm/?uid=someone&" + name + b"=s3cr3tvalue&mark=" + marker.encode()
    status, _, _ = raw_http(server.port, raw_request("GET", target))
    assert status == 200
    [record] = wait_for(lambda: access_records(caplog, marker), "the access log line")
    assert "s3cr3tvalue" not in record.query
    assert "***=***&mark=" in record.query


def test_client_controlled_fields_are_bounded(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hongyan.access")
    uid = "u" * 5000
    response = server.http.get(f"/mt/?mark=long&uid={uid}&pwd=x&pad={'p' * 9000}")
    assert response.content.startswith(b"sms&stat=101")
    [record] = wait_for(lambda: access_records(caplog, "mark=long"), "the access log line")
    assert len(record.uid) < 100
    assert len(record.query) < 1100
    assert len(record.getMessage()) < 100
