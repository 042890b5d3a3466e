"""A signed-in console session over plain HTTP (httpx), for testing pages without a browser."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Customer, RunningServer

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    """A browser's session, as requests: `get`, and `post` with the session's CSRF token."""

    def __init__(self, server: RunningServer, customer: Customer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=60)
        self.http.get("/console/sign-in")
        pre = self.http.cookies["hy_pre"]
        answer = self.http.post(
            "/console/sign-in",
            data={"uid": customer.uid, "password": customer.password, "csrf": pre},
        )
        assert answer.status_code == 303, answer.text
        found = _CSRF.search(self.http.get("/console/settings").text)
        assert found is not None
        self.csrf = found.group(1)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf, **data})

    def close(self) -> None:
        self.http.close()
