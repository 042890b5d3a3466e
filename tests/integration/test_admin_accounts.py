"""The accounts pages over HTTP: the list (search, sorting, pages), creating
an account, the account's page and each of its forms (one audit entry each,
roles refused with 403 and nothing written), and "view as": the customer's
console in a read-only session that refuses every change."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hongyan.core.roles import ROLES, allows
from hongyan.core.sessions import VIEW_MS
from tests.conftest import Customer, RunningServer
from tests.integration.admin_client import AdminClient, admin_client, audit_since, last_audit_id


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Iterator[AdminClient]:
    with admin_client(server, "admin") as client:
        yield client


@pytest.fixture(scope="module")
def support(server: RunningServer) -> Iterator[AdminClient]:
    with admin_client(server, "support") as client:
        yield client


@pytest.fixture(scope="module")
def finance(server: RunningServer) -> Iterator[AdminClient]:
    with admin_client(server, "finance") as client:
        yield client


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-uid="([^"]+)"', html)


def flash(client: AdminClient, uid: str) -> str:
    """The flash the account page shows after a form's redirect."""
    page = client.get(f"/admin/accounts/{uid}")
    assert page.status_code == 200
    found = re.search(r'data-testid="flash">([^<]*)<', page.text)
    assert found, "no flash"
    return found.group(1)


def one_entry(server: RunningServer, before: int, action: str, uid: str) -> None:
    entries = audit_since(server, before)
    assert [(e.action, e.target) for e in entries] == [(action, f"account:{uid}")]


def test_view_is_an_action_of_every_operator_role_and_no_customer() -> None:
    assert all(allows(role, "account.view") for role in ROLES)
    assert not allows("customer", "account.view")


def test_the_list_searches_sorts_and_pages(
    server: RunningServer, admin: AdminClient, support: AdminClient
) -> None:
    tag = f"lst{last_audit_id(server)}x"
    rich = server.customer(uid=f"{tag}-rich", balance=9000)
    poor = server.customer(uid=f"{tag}-poor", balance=5)
    sent = server.post("/mt/", {**poor.auth(), "mobile": "13900002222", "content": "hi"})
    assert sent.content.startswith(b"sms&stat=100"), sent.content
    server.operate(lambda op: op.set_frozen(rich.uid, True))

    page = admin.get("/admin/accounts", params={"q": tag, "sort": "balance", "dir": "desc"})
    assert page.status_code == 200
    assert listed(page.text) == [rich.uid, poor.uid]
    assert "9,000" in page.text and "frozen" in page.text
    assert 'data-testid="new-account"' in page.text
    up = admin.get("/admin/accounts", params={"q": tag, "sort": "balance", "dir": "asc"})
    assert listed(up.text) == [poor.uid, rich.uid]
    # Who sent today comes first by sent today, descending; the other never sent.
    by_sent = admin.get("/admin/accounts", params={"q": tag, "sort": "sent_today", "dir": "desc"})
    assert listed(by_sent.text) == [poor.uid, rich.uid]
    assert "never sent" in by_sent.text
    nothing = admin.get("/admin/accounts", params={"q": f"{tag}-none"})
    assert listed(nothing.text) == [] and "No account" in nothing.text
    # Paging: 50 a page; an odd page number or sort falls back to a sane one.
    odd = admin.get("/admin/accounts", params={"q": tag, "sort": "nonsense", "page": "x"})
    assert odd.status_code == 200 and listed(odd.text) == [poor.uid, rich.uid]

    seen = support.get("/admin/accounts", params={"q": tag})
    assert seen.status_code == 200 and listed(seen.text) == [poor.uid, rich.uid]
    assert 'data-testid="new-account"' not in seen.text


def test_an_admin_creates_an_account(
    server: RunningServer, admin: AdminClient, support: AdminClient
) -> None:
    assert admin.get("/admin/accounts/new").status_code == 200
    uid = f"new{last_audit_id(server)}"
    before = last_audit_id(server)
    made = admin.post(
        "/admin/accounts/new", {"uid": uid, "password": "pw-123456", "balance": "300"}
    )
    assert made.status_code == 303 and made.headers["location"] == f"/admin/accounts/{uid}"
    one_entry(server, before, "account.create", uid)
    assert server.operate(lambda op: op.show(uid)).balance == 300
    assert uid in flash(admin, uid)

    before = last_audit_id(server)
    again = admin.post("/admin/accounts/new", {"uid": uid, "password": "x", "balance": "0"})
    assert again.status_code == 400 and "already exists" in again.text
    bad = admin.post("/admin/accounts/new", {"uid": "no spaces", "password": "x"})
    assert bad.status_code == 400 and 'data-testid="create-error"' in bad.text
    assert admin.post("/admin/accounts/new", {"uid": "x1", "balance": "-4"}).status_code == 400
    assert support.get("/admin/accounts/new").status_code == 403
    refused = support.post("/admin/accounts/new", {"uid": f"{uid}s", "password": "pw-1234567"})
    assert refused.status_code == 403
    assert audit_since(server, before) == []


def test_the_account_page_shows_the_account(
    server: RunningServer, admin: AdminClient, finance: AdminClient
) -> None:
    customer = server.customer(balance=1200)
    uid = customer.uid
    server.operate(lambda op: op.topup(uid, 34, "paid invoice 9"))
    server.operate(lambda op: op.bind_address(uid, "203.0.113.0/24"))
    page = admin.get(f"/admin/accounts/{uid}")
    assert page.status_code == 200
    for shown in ("1,234", "paid invoice 9", "203.0.113.0/24", "account.topup", "Gateway number"):
        assert shown in page.text, shown
    for change in ("topup", "deduct", "freeze", "limits", "extension", "dialect", "push"):
        assert f'action="/admin/accounts/{uid}/{change}"' in page.text, change
    # A finance operator sees the account and the money forms, not the others.
    seen = finance.get(f"/admin/accounts/{uid}")
    assert seen.status_code == 200 and "1,234" in seen.text
    assert f'action="/admin/accounts/{uid}/topup"' in seen.text
    for change in ("freeze", "limits", "push", "password", "bind"):
        assert f'action="/admin/accounts/{uid}/{change}"' not in seen.text, change
    assert admin.get("/admin/accounts/no-such-account-here").status_code == 404


def test_each_form_changes_the_account_with_one_audit_entry(
    server: RunningServer, admin: AdminClient
) -> None:
    customer = server.customer(balance=100)
    uid = customer.uid
    forms: list[tuple[str, dict[str, str], str]] = [
        ("topup", {"amount": "1,000", "note": "paid"}, "account.topup"),
        ("deduct", {"amount": "50", "note": "reversal"}, "account.deduct"),
        ("freeze", {}, "account.freeze"),
        ("unfreeze", {}, "account.unfreeze"),
        ("unlock", {}, "account.unlock"),
        ("api-send", {"on": "0"}, "account.api_send"),
        ("refund", {"on": "1"}, "account.refund"),
        ("limits", {"rate": "20", "per_number": "5/h"}, "account.limits"),
        ("extension", {"code": f"97{last_audit_id(server) % 100000:05d}"}, "account.extension"),
        ("dialect", {"dialect": "legacy"}, "account.dialect"),
        ("dialect", {"dialect": "legacy", "bare_md5": "1", "login_password": "123123"}, ""),
        (
            "push",
            {
                "replies": "",
                "reports": "http://93.184.216.34/reports",  # public, literal: no lookup
                "method": "POST",
                "batch": "1",
                "secret": "s" * 20,
            },
            "account.push",
        ),
        ("bind", {"address": "198.51.100.7"}, "account.bind"),
        ("unbind", {"address": "198.51.100.7"}, "account.unbind"),
        ("password", {"password": "a-new-password"}, "account.password"),
    ]
    for change, data, action in forms:
        before = last_audit_id(server)
        done = admin.post(f"/admin/accounts/{uid}/{change}", data)
        assert done.status_code == 303, (change, done.text[:500])
        assert done.headers["location"] == f"/admin/accounts/{uid}"
        one_entry(server, before, action or "account.bare_md5", uid)
    summary = server.operate(lambda op: op.show(uid))
    assert summary.balance == 1050 and not summary.frozen and not summary.api_send
    assert summary.refund_on_failure and summary.rate_limit == 20
    assert summary.dialect.value == "legacy" and summary.bare_md5
    assert summary.networks == ()
    target = server.operate(lambda op: op.push_target(uid))
    assert target is not None and target.secret == "s" * 20 and target.batch_reports
    # An empty secret keeps the one set.
    kept = {"reports": target.reports_url, "method": "POST", "batch": "1", "secret": ""}
    assert admin.post(f"/admin/accounts/{uid}/push", kept).status_code == 303
    again = server.operate(lambda op: op.push_target(uid))
    assert again is not None and again.secret == "s" * 20
    # A private address is refused, with core's word for it.
    before = last_audit_id(server)
    private = {"reports": "http://10.0.0.5/r", "method": "GET", "secret": ""}
    assert admin.post(f"/admin/accounts/{uid}/push", private).status_code == 303
    assert "not a public address" in flash(admin, uid)
    assert audit_since(server, before) == []
    # No secret, password or pwd in any entry.
    for entry in audit_since(server, 0):
        assert "s" * 20 not in entry.before + entry.after
        assert "a-new-password" not in entry.before + entry.after + entry.note


def test_a_refused_change_says_why_and_writes_nothing(
    server: RunningServer, admin: AdminClient
) -> None:
    uid = server.customer(balance=10).uid
    before = last_audit_id(server)
    for change, data in (
        ("topup", {"amount": "100", "note": ""}),
        ("topup", {"amount": "ten", "note": "x"}),
        ("deduct", {"amount": "11", "note": "too much"}),
        ("api-send", {"on": "maybe"}),
        ("limits", {"rate": "fast"}),
        ("unbind", {"address": "192.0.2.1"}),
    ):
        done = admin.post(f"/admin/accounts/{uid}/{change}", data)
        if done.status_code == 303:
            assert flash(admin, uid), change
        else:
            assert done.status_code == 404, change  # unbinding what is not bound
    assert audit_since(server, before) == []
    assert server.operate(lambda op: op.show(uid)).balance == 10
    admin.post(f"/admin/accounts/{uid}/topup", {"amount": "5"})
    assert "give a note" in flash(admin, uid)


@pytest.mark.parametrize("amount", ["1,000,000,000,001", "9" * 19, "9" * 5000, "²"])
def test_an_amount_past_the_bound_is_refused_and_writes_nothing(
    server: RunningServer, admin: AdminClient, amount: str
) -> None:
    uid = server.customer(balance=10).uid
    before = last_audit_id(server)
    for change in ("topup", "deduct"):
        done = admin.post(f"/admin/accounts/{uid}/{change}", {"amount": amount, "note": "x"})
        assert done.status_code == 303, (change, done.text[:300])
        said = flash(admin, uid)
        assert "1,000,000,000,000 parts" in said or "whole number" in said, said
    assert audit_since(server, before) == []
    assert server.operate(lambda op: op.show(uid)).balance == 10


def test_the_push_form_removes_the_signing_secret(
    server: RunningServer, admin: AdminClient
) -> None:
    uid = server.customer().uid
    signed = {"reports": "http://93.184.216.34/reports", "method": "GET", "secret": "s" * 20}
    assert admin.post(f"/admin/accounts/{uid}/push", signed).status_code == 303
    assert 'data-testid="remove-secret"' in admin.get(f"/admin/accounts/{uid}").text
    before = last_audit_id(server)
    unsigned = {**signed, "secret": "", "remove_secret": "1"}
    assert admin.post(f"/admin/accounts/{uid}/push", unsigned).status_code == 303
    target = server.operate(lambda op: op.push_target(uid))
    assert target is not None and target.secret == "" and target.reports_url
    [entry] = audit_since(server, before)
    assert '"signed": false' in entry.after and '"signed": true' in entry.before
    assert 'data-testid="remove-secret"' not in admin.get(f"/admin/accounts/{uid}").text


def test_the_account_audit_table_shows_an_unset_value_as_none(
    server: RunningServer, admin: AdminClient
) -> None:
    uid = server.customer(rate="20").uid
    assert admin.post(f"/admin/accounts/{uid}/limits", {"rate": "off"}).status_code == 303
    page = admin.get(f"/admin/accounts/{uid}")
    table = re.search(r'data-testid="account-audit".*?</section>', page.text, re.S)
    assert table and "rate_limit:" in table.group(0)
    assert "None" not in table.group(0)
    assert re.search(r"rate_limit:</span> <s[^>]*>20</s> → none", table.group(0)), table.group(0)


def test_roles_get_403_on_what_they_lack_and_nothing_is_written(
    server: RunningServer, support: AdminClient, finance: AdminClient
) -> None:
    uid = server.customer(balance=10).uid
    before = last_audit_id(server)
    assert (
        support.post(f"/admin/accounts/{uid}/topup", {"amount": "5", "note": "x"}).status_code
        == 403
    )
    assert support.post(f"/admin/accounts/{uid}/limits", {"rate": "5"}).status_code == 403
    assert finance.post(f"/admin/accounts/{uid}/freeze").status_code == 403
    assert finance.post(f"/admin/accounts/{uid}/password", {"password": "pw"}).status_code == 403
    assert audit_since(server, before) == []
    assert support.post(f"/admin/accounts/{uid}/freeze").status_code == 303
    one_entry(server, before, "account.freeze", uid)
    before = last_audit_id(server)
    done = finance.post(f"/admin/accounts/{uid}/topup", {"amount": "5", "note": "paid"})
    assert done.status_code == 303
    one_entry(server, before, "account.topup", uid)


def test_view_as_opens_the_customer_console_read_only(
    server: RunningServer, support: AdminClient
) -> None:
    customer: Customer = server.customer(balance=77)
    uid = customer.uid
    before = last_audit_id(server)
    # A GET changes nothing (it would open a session and write an entry): 405.
    assert support.get(f"/admin/accounts/{uid}/view-as").status_code == 405
    assert support.http.post(f"/admin/accounts/{uid}/view-as").status_code == 403  # no CSRF
    assert audit_since(server, before) == []
    assert 'data-testid="view-as"' in support.get(f"/admin/accounts/{uid}").text
    opened = support.post(f"/admin/accounts/{uid}/view-as")
    assert opened.status_code == 303 and opened.headers["location"] == "/console/"
    [entry] = audit_since(server, before)
    assert (entry.action, entry.target, entry.actor) == (
        "account.view",
        f"account:{uid}",
        support.name,
    )
    token = support.http.cookies.get("hy_session", path="/console")
    assert token and token not in entry.after
    cookie = next(
        v for k, v in opened.headers.multi_items() if k == "set-cookie" and "hy_session=" in v
    )
    assert "Path=/console" in cookie and "HttpOnly" in cookie

    home = support.get("/console/")
    assert home.status_code == 200 and uid in home.text
    assert 'data-testid="viewer-banner"' in home.text and support.name in home.text
    assert 'data-testid="sign-out"' not in home.text
    settings_page = support.get("/console/settings")
    csrf = re.search(r'name="csrf" value="([^"]+)"', settings_page.text)
    assert csrf
    before = last_audit_id(server)
    for path, data in (
        ("/console/settings/addresses", {"address": "192.0.2.9"}),
        ("/console/send", {"numbers": "13900003333", "content": "hi"}),
        ("/console/sign-out", {}),
        ("/console/password", {"current": "123123", "new": "x" * 12, "again": "x" * 12}),
    ):
        refused = support.http.post(path, data={**data, "csrf": csrf.group(1)})
        assert refused.status_code == 403, path
        assert "只读" in refused.text  # "read-only", in the console's default language
    assert audit_since(server, before) == []
    assert server.operate(lambda op: op.show(uid)).networks == ()
    assert support.get("/console/").status_code == 200  # still open: sign-out was refused

    # It ends 30 minutes after it began, whatever happens meanwhile.
    with server.clock.frozen() as clock:
        clock.advance(VIEW_MS - 1000)
        assert support.get("/console/ledger").status_code == 200
        clock.advance(2000)
        ended = support.get("/console/")
        assert ended.status_code == 303 and "/console/sign-in" in ended.headers["location"]


def test_view_as_of_no_account_is_404_and_writes_nothing(
    server: RunningServer, finance: AdminClient
) -> None:
    before = last_audit_id(server)
    assert finance.post("/admin/accounts/nobody-at-all/view-as").status_code == 404
    assert audit_since(server, before) == []
