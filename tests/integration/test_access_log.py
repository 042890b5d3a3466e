"""The access log under hostile input (issue 11 items 1 and 3): a secret is
redacted whatever the encoding of its name, and every field a client controls
is cut to a bound."""

from __future__ import annotations

import logging

import pytest

from tests.conformance.support import remain_answer
from tests.conftest import RunningServer
from tests.integration.hostile import wait_for


def access_records(caplog: pytest.LogCaptureFixture, marker: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "hongyan.access" and marker in getattr(r, "query", "")
    ]


@pytest.mark.parametrize("name", ["p%77d", "pwd+", "%70%77%64", "PwD%20%20", "+pwd"])
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
