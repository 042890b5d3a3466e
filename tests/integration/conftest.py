"""A platform that delivers: the dispatcher on, receipts 0-50 ms after submit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningServer, _server_settings


def live_server(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> RunningServer:
    """A delivering platform; `overrides` are settings (e.g. message_ttl_s, simulator)."""
    settings = _server_settings(
        tmp_path_factory,
        **{
            "run_dispatcher": True,
            "dispatch_poll_s": 0.05,
            "retry_base_s": 0.05,
            "retry_max_s": 0.2,
            "simulator": {"delay_min_s": 0, "delay_max_s": 0.05},
            **overrides,
        },
    )
    return RunningServer(settings)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = live_server(tmp_path_factory)
    yield server
    server.stop()
