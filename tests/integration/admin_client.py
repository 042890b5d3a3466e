"""The operator console by plain HTTP (no browser): make an operator of a role in a
running test platform, sign in through the form, post forms with the session's
CSRF token as the browser would.

    client = admin_client(server, "finance")     # a new finance operator, signed in
    client.get("/admin/operators")
    client.post("/admin/accounts/c1/topup", {"amount": "100", "note": "paid"})
    client.close()
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import uvicorn

from hongyan.api.server import uvicorn_options
from hongyan.core.audit import Actor
from hongyan.core.operators import Operators
from hongyan.store import audit as audit_store
from hongyan.store.audit import Entry
from tests.conftest import RunningServer
from tests.waiting import until

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_names = itertools.count(1)


@dataclass(frozen=True)
class OperatorLogin:
    name: str
    password: str
    role: str


def make_operator(
    server: RunningServer, role: str = "admin", *, name: str | None = None
) -> OperatorLogin:
    """A new operator of `role` on the server's platform, made as the CLI makes one."""
    name = name or f"op{next(_names)}_{secrets.token_hex(2)}"
    password = f"pw-{secrets.token_hex(8)}"
    operators = Operators(server.settings, server.platform.db)
    server.on_server(operators.create(Actor.cli(), name, role, password))
    return OperatorLogin(name, password, role)


def operators_of(server: RunningServer) -> Operators:
    return Operators(server.settings, server.platform.db)


def sign_in(http: httpx.Client, name: str, password: str, code: str = "") -> httpx.Response:
    """Post the sign-in form as a browser would (its pre-session token first)."""
    http.get("/admin/sign-in")
    pre = http.cookies.get("hy_admin_pre", path="/admin")
    assert pre
    return http.post(
        "/admin/sign-in", data={"name": name, "password": password, "code": code, "csrf": pre}
    )


class AdminClient:
    """A signed-in operator's browser: `csrf` is its session's form token."""

    def __init__(self, base_url: str, login: OperatorLogin, totp_secret: str = "") -> None:
        self.login = login
        self.http = httpx.Client(base_url=base_url, timeout=120, follow_redirects=False)
        code = pyotp.TOTP(totp_secret).now() if totp_secret else ""
        signed = sign_in(self.http, login.name, login.password, code)
        assert signed.status_code == 303, signed.text[:2000]
        self.csrf = self.token("/admin/me")

    @property
    def name(self) -> str:
        return self.login.name

    def token(self, path: str) -> str:
        found = CSRF.search(self.http.get(path).text)
        assert found, path
        return found.group(1)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={**(data or {}), "csrf": self.csrf}, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def admin_client(
    server: RunningServer, role: str = "admin", *, base_url: str | None = None
) -> AdminClient:
    """A new operator of `role`, signed in (to `base_url`, default the server's own)."""
    return AdminClient(base_url or server.url, make_operator(server, role))


def audit_entries(server: RunningServer, **filters: Any) -> list[Entry]:
    """The audit log, newest first (filters as store.audit.search takes them)."""

    async def read() -> list[Entry]:
        async with server.platform.db.read() as conn:
            return await conn.run_sync(lambda c: audit_store.search(c, limit=1000, **filters))

    return server.on_server(read())


def last_audit_id(server: RunningServer) -> int:
    entries = audit_entries(server)
    return entries[0].id if entries else 0


def audit_since(server: RunningServer, after_id: int) -> list[Entry]:
    """The entries written after `after_id`, oldest first."""
    return sorted((e for e in audit_entries(server) if e.id > after_id), key=lambda e: e.id)


@contextmanager
def own_listener(server: RunningServer) -> Iterator[str]:
    """Serve `server`'s operator console on its own listener (the server's settings
    have `[admin] port`), on the platform's event loop as `hongyan serve` does;
    its base URL."""
    listener = server.app.admin_listener
    assert listener is not None, "the server's settings give the admin console no port"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = {**uvicorn_options("127.0.0.1", port), "loop": "asyncio", "lifespan": "off"}
    uv = uvicorn.Server(uvicorn.Config(listener, **options))
    assert server.platform.loop is not None
    serving = asyncio.run_coroutine_threadsafe(uv.serve(sockets=[sock]), server.platform.loop)
    until(lambda: uv.started or serving.done(), "admin listener started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        serving.result(timeout=60)
        sock.close()
