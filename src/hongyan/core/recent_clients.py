"""The addresses each account's API clients have called from lately.

The console warns a customer before an IP binding change that would refuse
(117) a client that is calling now; to know who is calling, the gates note
the address of every request they let through (`Gatekeeper.admit`).

Kept in memory and per process: with several server processes each knows
its own callers only, and a restart forgets them, which is enough for a
warning (the binding itself is the store's). Bounded twice, so that no
client can grow it: the newest `PER_ACCOUNT` addresses of an account, and
the `ACCOUNTS` accounts that called last.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

PER_ACCOUNT = 16
ACCOUNTS = 10_000


class RecentClient(NamedTuple):
    address: str
    last_seen: int  # epoch ms of its latest admitted request


class RecentClients:
    def __init__(self, per_account: int = PER_ACCOUNT, accounts: int = ACCOUNTS) -> None:
        self._per_account = per_account
        self._accounts = accounts
        # account id → (address → last seen), least recently seen first in both.
        self._seen: OrderedDict[int, OrderedDict[str, int]] = OrderedDict()

    def saw(self, account_id: int, address: str, at: int) -> None:
        """An admitted request of the account from `address` at `at` (on the request path:
        a few dictionary operations)."""
        addresses = self._seen.get(account_id)
        if addresses is None:
            addresses = self._seen[account_id] = OrderedDict()
            if len(self._seen) > self._accounts:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(account_id)
        addresses[address] = at
        addresses.move_to_end(address)
        if len(addresses) > self._per_account:
            addresses.popitem(last=False)

    def of(self, account_id: int, since: int = 0) -> list[RecentClient]:
        """The account's addresses seen at or after `since`, the latest first."""
        addresses = self._seen.get(account_id)
        if addresses is None:
            return []
        return [
            RecentClient(address, at) for address, at in reversed(addresses.items()) if at >= since
        ]

    def __len__(self) -> int:
        return len(self._seen)
