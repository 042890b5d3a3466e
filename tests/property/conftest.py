"""Accounts for the property tests, made once per module on the session server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import Customer, RunningServer
from tests.property.wire import Ledgers

DEFAULT_RATE = "20"
DEFAULT_PER_NUMBER = "1/30s,5/h,10/d"
BOUND_ADDRESS = "10.9.9.9"

# Gate answers an account gets with valid credentials (PROTOCOL.md gates 4-6).
GATE_STAT = {"frozen": 109, "bound": 117}
SEND_GATE_STAT = {"nosend": 116}


@dataclass
class Pool:
    server: RunningServer
    customers: dict[str, Customer]
    ledgers: Ledgers

    def __getitem__(self, key: str) -> Customer:
        return self.customers[key]


@pytest.fixture(scope="module")
def pool(server: RunningServer) -> Iterator[Pool]:
    """
    rich     huge balance, limits off: the charging checks
    limited  the default limits (20 requests/s, 1/30s,5/h,10/d per number)
    poor     a small balance and the default limits: 102 soon
    victim   only ever sent a wrong pwd: 101, then 114
    frozen, bound (to 10.9.9.9), nosend (API sending off): their gate's stat
    """
    customers = {
        "rich": server.customer(balance=10**9, rate="off", per_number="off"),
        "limited": server.customer(balance=10**6, rate=DEFAULT_RATE, per_number=DEFAULT_PER_NUMBER),
        "poor": server.customer(balance=12, rate=DEFAULT_RATE, per_number=DEFAULT_PER_NUMBER),
        "victim": server.customer(balance=1000),
        "frozen": server.customer(balance=1000),
        "bound": server.customer(balance=1000),
        "nosend": server.customer(balance=1000),
    }
    server.operate(lambda op: op.set_frozen(customers["frozen"].uid, True))
    server.operate(lambda op: op.bind_address(customers["bound"].uid, BOUND_ADDRESS))
    server.operate(lambda op: op.set_api_send(customers["nosend"].uid, False))
    yield Pool(server, customers, Ledgers(server, customers))
