"""The account page's test push over HTTP: a support operator pushes one
signed test report to a local receiver and sees its answer as a flash, with
exactly one audit entry; a failing receiver is shown as an error; a kind
without a URL and a finance operator (403) push and write nothing."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest

from hongyan.testing import FAIL, PushReceiver
from tests.conftest import RunningServer, _server_settings
from tests.integration.admin_client import AdminClient, admin_client, audit_since, last_audit_id


@pytest.fixture(scope="module")
def pushing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A platform whose pushes may reach 127.0.0.1 (the receiver); the pusher
    itself stays off: the test push is made by the request, not by it."""
    running = RunningServer(
        _server_settings(
            tmp_path_factory,
            push={"run": False, "allowed_networks": ["127.0.0.1/32"], "dns_cache_s": 0},
        )
    )
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def support(pushing: RunningServer) -> Iterator[AdminClient]:
    with admin_client(pushing, "support") as client:
        yield client


@pytest.fixture(scope="module")
def finance(pushing: RunningServer) -> Iterator[AdminClient]:
    with admin_client(pushing, "finance") as client:
        yield client


def with_reports_to(server: RunningServer, url: str) -> str:
    """A new account whose reports (not replies) are pushed to `url`; its uid."""
    uid = server.customer().uid
    server.operate(lambda op: op.set_push(uid, reports=url, replies="", method="GET"))
    return uid


def flash_of(client: AdminClient, uid: str) -> tuple[str, str]:
    """The kind and text of the flash the account page shows after a redirect."""
    page = client.get(f"/admin/accounts/{uid}")
    assert page.status_code == 200
    found = re.search(r'class="alert alert-(\w+)"[^>]*data-testid="flash">([^<]*)<', page.text)
    assert found, "no flash"
    return found.group(1), html.unescape(found.group(2))


def test_support_sends_a_test_report_with_one_audit_entry(
    pushing: RunningServer, support: AdminClient, receiver: PushReceiver
) -> None:
    uid = with_reports_to(pushing, receiver.url)
    page = support.get(f"/admin/accounts/{uid}")
    assert 'data-testid="test-push-report"' in page.text
    assert 'data-testid="test-push-reply"' not in page.text  # no replies URL

    before = last_audit_id(pushing)
    done = support.post(f"/admin/accounts/{uid}/test-push", {"kind": "report"})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/accounts/{uid}"
    (push,) = receiver.received
    (form,) = push.forms()
    assert form["cmd"] == "status" and form["uid"] == uid and form["mobileids"] == "hongyan-test"
    [entry] = audit_since(pushing, before)
    assert (entry.action, entry.target) == ("push.test", f"account:{uid}")
    assert entry.actor == support.name
    assert json.loads(entry.after) == {"kind": "report", "url": receiver.url, "status": 200}
    kind, text = flash_of(support, uid)
    assert kind == "ok" and "HTTP 200" in text and receiver.url in text

    # A kind without a URL: said, nothing pushed, nothing written.
    before = last_audit_id(pushing)
    refused = support.post(f"/admin/accounts/{uid}/test-push", {"kind": "reply"})
    assert refused.status_code == 303
    assert flash_of(support, uid)[0] == "error"
    assert support.post(f"/admin/accounts/{uid}/test-push", {"kind": "x"}).status_code == 303
    assert flash_of(support, uid)[0] == "error"
    assert audit_since(pushing, before) == [] and len(receiver.received) == 1


def test_a_failing_receiver_is_shown_as_an_error_in_the_operators_language(
    pushing: RunningServer, support: AdminClient, receiver: PushReceiver
) -> None:
    receiver.mode = FAIL
    uid = with_reports_to(pushing, receiver.url)
    before = last_audit_id(pushing)
    support.get("/admin/language/zh")
    try:
        done = support.post(f"/admin/accounts/{uid}/test-push", {"kind": "report"})
        assert done.status_code == 303
        kind, text = flash_of(support, uid)
    finally:
        support.get("/admin/language/en")
    assert kind == "error" and "HTTP 500" in text and "测试推送状态报告" in text
    [entry] = audit_since(pushing, before)
    assert entry.action == "push.test" and json.loads(entry.after)["status"] == 500
    assert receiver.attempts == 1


def test_finance_neither_sees_nor_sends_a_test_push(
    pushing: RunningServer, finance: AdminClient, receiver: PushReceiver
) -> None:
    uid = with_reports_to(pushing, receiver.url)
    page = finance.get(f"/admin/accounts/{uid}")
    assert page.status_code == 200 and 'data-testid="test-push' not in page.text
    before = last_audit_id(pushing)
    refused = finance.post(f"/admin/accounts/{uid}/test-push", {"kind": "report"})
    assert refused.status_code == 403
    assert audit_since(pushing, before) == [] and receiver.attempts == 0
