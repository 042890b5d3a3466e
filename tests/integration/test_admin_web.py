"""The operator console's web layer over HTTP: sign-in (right, wrong, locked,
disabled, TOTP), its own cookie, CSRF and origin checks, roles (403), a
customer session that never reaches /admin/, and the separate listener."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from hongyan.core.audit import Actor
from tests.conftest import RunningServer, _server_settings
from tests.integration.admin_client import (
    AdminClient,
    admin_client,
    audit_since,
    last_audit_id,
    make_operator,
    operators_of,
    own_listener,
    sign_in,
)
from tests.integration.console_client import ConsoleClient

REFUSED = "Wrong name, password or code, or too many attempts"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A platform of its own for the lock tests (their failures count per address):
    behind a trusted proxy, so a test names its client by X-Forwarded-For."""
    settings = _server_settings(
        tmp_path_factory,
        trusted_proxies=["127.0.0.1/32"],
        admin={"lockout_failures": 3, "address_failures": 6},
    )
    running = RunningServer(settings)
    yield running
    running.stop()


def client_at(server: RunningServer, address: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60, headers={"x-forwarded-for": address})


def test_sign_in_sets_a_strict_admin_cookie_and_leads_to_the_console(
    server: RunningServer,
) -> None:
    login = make_operator(server, "support")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        page = http.get("/admin/sign-in")
        assert page.status_code == 200
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        signed = sign_in(http, login.name, login.password)
        assert signed.status_code == 303 and signed.headers["location"] == "/admin/"
        cookie = next(
            v for k, v in signed.headers.multi_items() if k == "set-cookie" and "hy_admin=" in v
        )
        for part in ("Path=/admin", "HttpOnly", "SameSite=Strict"):
            assert part in cookie
        assert "Secure" not in cookie  # plain HTTP here
        home = http.get("/admin/")
        assert home.status_code == 302 and home.headers["location"] == "/admin/system"
        me = http.get("/admin/me")
        assert me.status_code == 200 and login.name in me.text
        for link in ("/admin/accounts", "/admin/messages", "/admin/channels", "/admin/system"):
            assert f'href="{link}"' in me.text
        assert "/admin/finance" in me.text and "/admin/audit" in me.text
        assert "/admin/operators" in me.text
        # Signing out ends the session: the cookie no longer opens a page.
        token = http.cookies.get("hy_admin", path="/admin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', me.text)
        assert csrf
        out = http.post("/admin/sign-out", data={"csrf": csrf.group(1)})
        assert out.status_code == 303
    with httpx.Client(base_url=server.url, cookies={"hy_admin": token or ""}) as stale:
        again = stale.get("/admin/me")
        assert again.status_code == 303 and again.headers["location"].startswith("/admin/sign-in")


def test_wrong_password_and_unknown_name_get_the_same_answer(server: RunningServer) -> None:
    login = make_operator(server)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        wrong = sign_in(http, login.name, "not-the-password")
        unknown = sign_in(http, "nobody-" + login.name, login.password)
        empty = sign_in(http, "", "")
    for answer in (wrong, unknown, empty):
        assert answer.status_code == 401
        assert REFUSED in answer.text
        assert "hy_admin=" not in answer.headers.get("set-cookie", "")
    assert wrong.text.replace(login.name, "") == unknown.text.replace("nobody-" + login.name, "")
    # A failure counts on the operator's row; a success starts the count again.
    assert operators_of_failures(server, login.name) == 1
    with AdminClient(server.url, login):
        pass
    assert operators_of_failures(server, login.name) == 0


def operators_of_failures(server: RunningServer, name: str) -> int:
    return server.on_server(operators_of(server).get(name)).failures


def test_failures_lock_the_operator_wherever_they_come_from(guarded: RunningServer) -> None:
    login = make_operator(guarded)
    for n in range(3):  # lockout_failures = 3, each from another address
        with client_at(guarded, f"198.51.100.{n + 1}") as http:
            assert sign_in(http, login.name, "wrong-password").status_code == 401
    record = guarded.on_server(operators_of(guarded).get(login.name))
    assert record.locked_until > 0
    with client_at(guarded, "198.51.100.99") as http:
        locked = sign_in(http, login.name, login.password)
        assert locked.status_code == 401 and REFUSED in locked.text
    # An admin's enable lifts the lock (one audit entry).
    before = last_audit_id(guarded)
    guarded.on_server(operators_of(guarded).enable(Actor.cli(), login.name))
    [entry] = audit_since(guarded, before)
    assert (entry.action, entry.target) == ("operator.enable", f"operator:{login.name}")
    with client_at(guarded, "198.51.100.99") as http:
        assert sign_in(http, login.name, login.password).status_code == 303


def test_failures_from_one_address_lock_that_address(guarded: RunningServer) -> None:
    logins = [make_operator(guarded) for _ in range(3)]
    with client_at(guarded, "203.0.113.7") as http:
        for n in range(6):  # address_failures = 6, spread over names (none locks by itself)
            login = logins[n % 3]
            assert sign_in(http, login.name, "wrong-password").status_code == 401
        # Even the right password is refused from there now ...
        assert sign_in(http, logins[0].name, logins[0].password).status_code == 401
    # ... but not from elsewhere.
    with client_at(guarded, "203.0.113.8") as http:
        assert sign_in(http, logins[0].name, logins[0].password).status_code == 303


def test_a_disabled_operator_cannot_sign_in_and_their_sessions_end(server: RunningServer) -> None:
    admin = admin_client(server, "admin")
    victim = admin_client(server, "support")
    try:
        assert victim.get("/admin/me").status_code == 200
        before = last_audit_id(server)
        done = admin.post(f"/admin/operators/{victim.name}/disable")
        assert done.status_code == 303
        [entry] = audit_since(server, before)
        assert entry.action == "operator.disable" and entry.actor == admin.name
        assert entry.via == "console" and entry.address == "127.0.0.1"
        assert victim.get("/admin/me").status_code == 303  # the session has ended
        with httpx.Client(base_url=server.url) as http:
            refused = sign_in(http, victim.name, victim.login.password)
            assert refused.status_code == 401 and REFUSED in refused.text
        before = last_audit_id(server)
        assert admin.post(f"/admin/operators/{victim.name}/enable").status_code == 303
        assert [e.action for e in audit_since(server, before)] == ["operator.enable"]
        with httpx.Client(base_url=server.url) as http:
            assert sign_in(http, victim.name, victim.login.password).status_code == 303
    finally:
        admin.close()
        victim.close()


def test_totp_enrolment_then_sign_in_asks_for_the_code(server: RunningServer) -> None:
    login = make_operator(server, "finance")
    with AdminClient(server.url, login) as client:
        page = client.get("/admin/me")
        assert page.status_code == 200 and "<svg" in page.text  # the QR code, inline
        found = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text)
        assert found
        secret = found.group(1)
        assert f"otpauth://totp/hongyan:{login.name}" in page.text.replace("%3A", ":")
        before = last_audit_id(server)
        mine = {"secret": secret, "password": login.password}
        wrong = client.post("/admin/me/totp", {**mine, "code": "000000"})
        if pyotp.TOTP(secret).verify("000000", valid_window=1):  # one in 300,000
            pytest.skip("the wrong code happened to be right")
        assert wrong.status_code == 400 and audit_since(server, before) == []
        code = pyotp.TOTP(secret).now()
        # The right code is not enough without the operator's current password (a
        # wrong one counts toward the lock: 1 of 5, with the 3 refusals below).
        bare = client.post("/admin/me/totp", {**mine, "password": "not-it", "code": code})
        assert bare.status_code == 400 and "current password" in bare.text
        assert 'name="password"' in bare.text and audit_since(server, before) == []
        right = client.post("/admin/me/totp", {**mine, "code": code})
        assert right.status_code == 303
        [entry] = audit_since(server, before)
        assert (entry.action, entry.actor, entry.via) == ("operator.totp", login.name, "console")
        assert secret not in entry.before + entry.after + entry.note
        assert "on" in client.get("/admin/me").text
    with httpx.Client(base_url=server.url) as http:
        assert sign_in(http, login.name, login.password).status_code == 401
        assert sign_in(http, login.name, login.password, "123456x").status_code == 401
        # The code that turned it on is used; the next step's is good, once.
        assert sign_in(http, login.name, login.password, code).status_code == 401
        later = pyotp.TOTP(secret).at(time.time() + 30)
        assert sign_in(http, login.name, login.password, later).status_code == 303
        assert http.get("/admin/me").status_code == 200
    with httpx.Client(base_url=server.url) as http:
        assert sign_in(http, login.name, login.password, later).status_code == 401
    # A reset (the CLI's, as admin) removes it: the password alone signs in again.
    server.on_server(operators_of(server).reset_totp(Actor.cli(), login.name))
    with AdminClient(server.url, login) as client:
        assert client.get("/admin/me").status_code == 200


def test_changes_without_the_csrf_token_or_from_another_site_are_refused(
    server: RunningServer,
) -> None:
    with admin_client(server, "admin") as client:
        target = make_operator(server, "support")
        before = last_audit_id(server)
        bare = client.http.post(f"/admin/operators/{target.name}/disable", data={})
        assert bare.status_code == 403 and "expired" in bare.text
        forged = client.http.post(
            f"/admin/operators/{target.name}/disable", data={"csrf": "forged"}
        )
        assert forged.status_code == 403
        foreign = client.post(
            f"/admin/operators/{target.name}/disable", headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and "another site" in foreign.text
        assert audit_since(server, before) == []
        assert not server.on_server(operators_of(server).get(target.name)).disabled
        # The sign-in form has its own token.
        with httpx.Client(base_url=server.url) as http:
            answer = http.post(
                "/admin/sign-in", data={"name": target.name, "password": target.password}
            )
            assert answer.status_code == 403


def test_a_customer_session_never_reaches_the_operator_console(server: RunningServer) -> None:
    customer = server.customer()
    console = ConsoleClient(server, customer)
    try:
        assert console.get("/console/send").status_code == 200
        for path in ("/admin/operators", "/admin/me"):
            answer = console.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/admin/sign-in")
        # The customer's cookie sent outright to /admin/ is no operator's either.
        token = console.http.cookies.get("hy_session")
        assert token
        cookies = {"hy_session": token, "hy_admin": token}
        with httpx.Client(base_url=server.url, cookies=cookies) as http:
            assert http.get("/admin/operators").status_code == 303
            page = http.get("/admin/sign-in")
            assert page.status_code == 200 and "Sign in" in page.text
            assert 'data-nav="operators"' not in page.text
    finally:
        console.close()


def test_support_cannot_create_operators_but_admin_can(server: RunningServer) -> None:
    with admin_client(server, "support") as support, admin_client(server, "admin") as admin:
        listing = support.get("/admin/operators")
        assert listing.status_code == 200 and support.name in listing.text
        assert 'data-testid="create-operator"' not in listing.text
        before = last_audit_id(server)
        form = {"name": "sneaky", "role": "admin", "password": "p" * 12, "again": "p" * 12}
        refused = support.post("/admin/operators", form)
        assert refused.status_code == 403 and 'data-testid="forbidden"' in refused.text
        assert "support role" in refused.text
        assert audit_since(server, before) == []
        assert (
            support.post(f"/admin/operators/{admin.name}/role", {"role": "finance"}).status_code
            == 403
        )
        made = admin.post(
            "/admin/operators", {**form, "name": f"new-{admin.name}", "role": "finance"}
        )
        assert made.status_code == 303
        [entry] = audit_since(server, before)
        assert (entry.action, entry.target) == ("operator.create", f"operator:new-{admin.name}")
        assert entry.after == '{"role": "finance"}' and "p" * 12 not in entry.after
        shown = admin.get("/admin/operators")
        assert f"new-{admin.name}" in shown.text and "created" in shown.text  # the flash


def test_each_console_operator_action_writes_exactly_one_audit_entry(
    server: RunningServer,
) -> None:
    with admin_client(server, "admin") as admin:
        name = f"t-{admin.name}"
        password = "first-password"
        steps = [
            (
                "/admin/operators",
                {"name": name, "role": "support", "password": password, "again": password},
                "operator.create",
            ),
            (f"/admin/operators/{name}/role", {"role": "finance"}, "operator.role"),
            (f"/admin/operators/{name}/disable", {}, "operator.disable"),
            (f"/admin/operators/{name}/enable", {}, "operator.enable"),
            # Nothing to change: one entry all the same (before and after alike).
            (f"/admin/operators/{name}/enable", {}, "operator.enable"),
            (f"/admin/operators/{name}/role", {"role": "finance"}, "operator.role"),
        ]
        for path, data, action in steps:
            before = last_audit_id(server)
            answer = admin.post(path, data)
            assert answer.status_code == 303, (path, answer.text[:500])
            [entry] = audit_since(server, before)
            assert (entry.action, entry.target, entry.actor) == (
                action,
                f"operator:{name}",
                admin.name,
            )
        changed, unchanged = [e for e in audit_since(server, 0) if e.action == "operator.role"][-2:]
        assert (changed.before, changed.after) == ('{"role": "support"}', '{"role": "finance"}')
        assert unchanged.before == unchanged.after == '{"role": "finance"}'
    # The operator's own password change: one entry, no password in it, other sessions end.
    login = make_operator(server, "finance")
    with AdminClient(server.url, login) as me, AdminClient(server.url, login) as other:
        before = last_audit_id(server)
        new = "second-password"
        changed = me.post(
            "/admin/me/password", {"current": login.password, "new": new, "again": new}
        )
        assert changed.status_code == 303
        [entry] = audit_since(server, before)
        assert (entry.action, entry.actor) == ("operator.password", login.name)
        assert new not in entry.after and login.password not in entry.after
        assert me.get("/admin/me").status_code == 200  # this browser got a new session
        assert other.get("/admin/me").status_code == 303  # the other one ended
        me.csrf = me.token("/admin/me")  # the new session has a token of its own
        before = last_audit_id(server)
        wrong = me.post("/admin/me/password", {"current": "not-it", "new": new, "again": new})
        assert wrong.status_code == 400 and audit_since(server, before) == []


def test_the_last_enabled_admin_cannot_be_disabled(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    alone = RunningServer(_server_settings(tmp_path_factory))
    try:
        with admin_client(alone, "admin") as admin:
            before = last_audit_id(alone)
            answer = admin.post(f"/admin/operators/{admin.name}/disable")
            assert answer.status_code == 303
            assert "last enabled admin" in admin.get("/admin/operators").text
            assert audit_since(alone, before) == []
    finally:
        alone.stop()


def test_the_console_on_its_own_listener_is_not_on_the_customer_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _server_settings(tmp_path_factory, admin={"port": 1, "host": "127.0.0.1"})
    running = RunningServer(settings)
    try:
        # The customer listener has no /admin/: the protocol's answer for an unknown path.
        assert running.get("/admin/sign-in").status_code == 404
        assert running.get("/admin/sign-in").text.startswith("sms&stat=103")
        assert running.get("/console/sign-in").status_code == 200
        with own_listener(running) as url:
            assert httpx.get(f"{url}/").headers["location"] == "/admin/"
            assert httpx.get(f"{url}/admin/sign-in").status_code == 200
            assert httpx.get(f"{url}/console/sign-in").status_code == 404
            assert httpx.get(f"{url}/mt/").status_code == 404
            with admin_client(running, "admin", base_url=url) as client:
                assert client.get("/admin/operators").status_code == 200
    finally:
        running.stop()
