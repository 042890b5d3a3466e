"""/metrics on the customer port: for loopback and `http.metrics_allow` only (issue 11 item 9).

The client is judged as the gates judge it: X-Forwarded-For only from a
trusted proxy. Behind a reverse proxy on the same host every peer is
127.0.0.1, so a proxied customer must not pass for a local scraper.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.support import answer
from tests.conftest import RunningServer, _server_settings


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Behind a reverse proxy on the same host; an operator network may read /metrics."""
    settings = _server_settings(
        tmp_path_factory,
        trusted_proxies=["127.0.0.1"],
        http={"metrics_allow": ["127.0.0.0/8", "10.8.0.0/16"]},
    )
    server = RunningServer(settings)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = _server_settings(tmp_path_factory, http={"metrics_allow": ["10.8.0.0/16"]})
    server = RunningServer(settings)
    yield server
    server.stop()


def metrics_status(server: RunningServer, **headers: str) -> int:
    response = server.http.get(
        "/metrics", headers={k.replace("_", "-"): v for k, v in headers.items()}
    )
    if response.status_code == 200:
        assert "hongyan_api_requests_total" in response.text
    else:
        assert response.content == answer(103)  # as any unknown path
    return response.status_code


def test_a_local_scraper_reads_metrics(server: RunningServer) -> None:
    assert metrics_status(server) == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Forwarded_For": "203.0.113.7"},
        {"X_Forwarded_For": "127.0.0.1"},
        {"Forwarded": "for=203.0.113.7"},
        {"X_Real_IP": "203.0.113.7"},
    ],
)
def test_a_request_forwarded_by_an_untrusted_proxy_does_not(
    server: RunningServer, headers: dict[str, str]
) -> None:
    """No trusted_proxies: a forwarded client cannot be told from the proxy."""
    assert metrics_status(server, **headers) == 404


def test_a_customer_behind_a_trusted_proxy_does_not(proxied: RunningServer) -> None:
    assert metrics_status(proxied, X_Forwarded_For="203.0.113.7") == 404
    assert metrics_status(proxied, X_Forwarded_For="10.9.0.1") == 404


def test_a_forged_header_line_before_the_proxys_own_is_not_believed(
    proxied: RunningServer,
) -> None:
    """A proxy that adds its own X-Forwarded-For line (HAProxy's `option
    forwardfor`) leaves the client's first: the lines are one list, in order
    (RFC 9110 §5.3), and the client is its last untrusted hop."""
    headers = [("X-Forwarded-For", "10.8.3.4"), ("X-Forwarded-For", "203.0.113.7")]
    response = proxied.http.get("/metrics", headers=headers)
    assert (response.status_code, response.content) == (404, answer(103))


def test_an_allowed_network_behind_a_trusted_proxy_does(proxied: RunningServer) -> None:
    assert metrics_status(proxied, X_Forwarded_For="10.8.3.4") == 200
    assert metrics_status(proxied) == 200  # the proxy's own host, direct


def test_loopback_may_be_left_out(remote_only: RunningServer) -> None:
    assert metrics_status(remote_only) == 404


def test_health_stays_public(proxied: RunningServer) -> None:
    assert proxied.http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"}).text == "ok"
