"""A console session by plain HTTP (no browser): sign in, read a page's form
token, post forms as the browser would."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import Customer, RunningServer

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    def __init__(self, server: RunningServer, customer: Customer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=120, follow_redirects=False)
        self.http.get("/console/sign-in")
        pre = self.http.cookies.get("hy_pre")
        assert pre
        signed = self.http.post(
            "/console/sign-in",
            data={"uid": customer.uid, "password": customer.password, "csrf": pre},
        )
        assert signed.status_code == 303, signed.text
        self.csrf = self.token("/console/send")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def token(self, path: str) -> str:
        found = _CSRF.search(self.http.get(path).text)
        assert found, path
        return found.group(1)

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={**data, "csrf": self.csrf}, **kwargs)

    def preview(self, numbers: str, content: str, time: str = "", **kwargs: Any) -> httpx.Response:
        return self.post(
            "/console/send", {"numbers": numbers, "content": content, "time": time}, **kwargs
        )

    def close(self) -> None:
        self.http.close()


def draft_of(preview: httpx.Response) -> str:
    found = re.search(r'name="draft" value="([^"]+)"', preview.text)
    assert found, preview.text[:2000]
    return found.group(1)


def shown(html: str, name: str) -> str:
    """The text of the element with data-testid=name (tags stripped)."""
    found = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(?:div|dd|p|ul|span)>', html, re.S)
    assert found, name
    return re.sub(r"<[^>]+>", " ", found.group(1)).split()[0] if found.group(1).strip() else ""
