"""The console's web layer over HTTP: headers, cookies, CSRF and origin
checks, redirects that stay on the site, the language switch, and body size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import Customer, RunningServer, _server_settings


@contextmanager
def signed_in_client(server: RunningServer, customer: Customer) -> Iterator[httpx.Client]:
    """A client signed in through the form, as a browser would be."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.get("/console/sign-in")
        answer = client.post(
            "/console/sign-in",
            data={
                "uid": customer.uid,
                "password": customer.password,
                "csrf": client.cookies["hy_pre"],
            },
        )
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(client: httpx.Client, path: str = "/console/password") -> str:
    html = client.get(path).text
    start = html.index('name="csrf" value="') + len('name="csrf" value="')
    return html[start : html.index('"', start)]


def test_every_page_forbids_framing_and_foreign_scripts(server: RunningServer) -> None:
    answer = server.get("/console/sign-in")
    assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    pre = answer.headers["set-cookie"]
    assert "HttpOnly" in pre and "SameSite=Lax" in pre and "Secure" not in pre


def test_cookies_are_secure_behind_a_trusted_https_proxy(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    https = {"x-forwarded-proto": "https"}
    # The session's server trusts no proxy: a client's own X-Forwarded-Proto is not believed.
    with httpx.Client(base_url=server.url) as client:
        assert "Secure" not in client.get("/console/sign-in", headers=https).headers["set-cookie"]
    behind = RunningServer(_server_settings(tmp_path_factory, trusted_proxies=["127.0.0.1/32"]))
    try:
        with httpx.Client(base_url=behind.url) as client:
            cookie = client.get("/console/sign-in", headers=https).headers["set-cookie"]
            assert "; Secure" in cookie
            assert "Secure" not in client.get("/console/sign-in").headers.get("set-cookie", "")
            # The proxy names the host the browser addressed; forms posted there are ours.
            customer = behind.customer()
            proxied = {"x-forwarded-host": "sms.example.com", "origin": "https://sms.example.com"}
            form = {"uid": customer.uid, "password": customer.password}
            answer = client.post(
                "/console/sign-in", data={**form, "csrf": client.cookies["hy_pre"]}, headers=proxied
            )
            assert answer.status_code == 303
    finally:
        behind.stop()


def test_the_root_leads_to_the_console_and_the_console_to_sign_in(server: RunningServer) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert server.http.get("/", headers=browser).headers["location"] == "/console/"
    # An API client that lost its path still gets the protocol's answer.
    assert server.http.get("/").text.startswith("sms&stat=103")
    assert server.http.get("/?uid=1", headers=browser).text.startswith("sms&stat=103")
    answer = server.http.get("/console/password?from=menu")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fpassword%3Ffrom%3Dmenu"


def test_after_sign_in_the_browser_goes_back_only_to_the_console(server: RunningServer) -> None:
    customer = server.customer()
    for target, expected in [
        ("/console/api", "/console/api"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console/\\\\evil.example", "/console/"),
        ("/mt/?uid=x", "/console/"),
    ]:
        with httpx.Client(base_url=server.url) as client:
            client.get("/console/sign-in")
            answer = client.post(
                "/console/sign-in",
                params={"next": target},
                data={
                    "uid": customer.uid,
                    "password": customer.password,
                    "csrf": client.cookies["hy_pre"],
                },
            )
            assert answer.headers["location"] == expected, target


def test_a_change_needs_the_sessions_token_and_our_origin(server: RunningServer) -> None:
    customer = server.customer()
    with signed_in_client(server, customer) as client:
        token = csrf_of(client)
        form = {
            "current": customer.password,
            "new": "another password",
            "again": "another password",
        }
        assert client.post("/console/password", data=form).status_code == 403
        assert client.post("/console/password", data={**form, "csrf": "forged"}).status_code == 403
        foreign = {"origin": "https://evil.example"}
        answer = client.post("/console/password", data={**form, "csrf": token}, headers=foreign)
        assert answer.status_code == 403 and "其他网站" in answer.text
        assert answer.headers["x-frame-options"] == "DENY"  # refusals are pages like the rest
        # The token in a header (scripts) does as well as in the form.
        answer = client.post("/console/password", data=form, headers={"x-csrf-token": token})
        assert answer.status_code == 303


def test_sign_out_needs_a_post_with_the_token(server: RunningServer) -> None:
    customer = server.customer()
    with signed_in_client(server, customer) as client:
        assert client.get("/console/sign-out").status_code == 405
        assert client.get("/console/").status_code == 200
        client.post("/console/sign-out", data={"csrf": csrf_of(client)})
        assert client.get("/console/").status_code == 303


def test_the_language_switch_is_remembered(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert "登录" in client.get("/console/sign-in").text
        answer = client.get("/console/language/en", params={"back": "/console/sign-in"})
        assert answer.headers["location"] == "/console/sign-in"
        page = client.get("/console/sign-in").text
        assert "Sign in to the SMS console" in page and 'lang="en"' in page
        assert client.get("/console/language/fr").status_code == 303  # ignored
        assert "Sign in to the SMS console" in client.get("/console/sign-in").text


def test_a_console_form_may_be_larger_than_an_api_body(server: RunningServer) -> None:
    """Pasted numbers make forms of megabytes; the API's own paths keep their bound."""
    customer = server.customer()
    big = "x" * (2 * 1024 * 1024)
    with signed_in_client(server, customer) as client:
        token = csrf_of(client)
        answer = client.post(
            "/console/password",
            data={"csrf": token, "current": big, "new": "n" * 9, "again": "n" * 9},
        )
        assert answer.status_code == 400  # read whole, and refused as a wrong password
    assert "stat=103" in server.post("/mm/", data={"uid": big}).text


def test_a_form_posted_after_the_session_ended_goes_to_sign_in(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.post("/console/password", data={"csrf": "x", "new": "y"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fpassword"
