"""The settings a customer changes themselves: IP binding and push.

The console is one more caller of the operator's use cases (`Operator`:
the same validation, the same store code, the same generation bump); what
is the customer's own here is the warning before a binding change, the
test push and the list of the last push requests. Each use case acts on
the signed-in account's uid only, as that customer (`Actor.customer`, never
the platform's actor): the console never takes an account from a URL or a
form. A change takes the session's `viewer` too: an operator viewing the
console read-only is refused by core, not only by the console.
"""

from __future__ import annotations

from typing import NamedTuple

from hongyan.config import Settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.core.bindings import parse_network, refused_after
from hongyan.core.gates import Gatekeeper
from hongyan.core.limits import Window, parse_windows
from hongyan.core.models import AccountSummary
from hongyan.core.recent_clients import RecentClient
from hongyan.core.states import OutboxKind
from hongyan.errors import InvalidInput
from hongyan.push.probe import ProbeResult, test_push
from hongyan.push.targets import Resolver, system_resolver
from hongyan.store import push as push_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.store.push import attempts as attempt_log

# An API client counts as calling now if it called within this long.
RECENT_MS = 24 * 3600 * 1000
# The push requests the settings page lists.
SHOWN_ATTEMPTS = 20


class BindingChange(NamedTuple):
    """A binding change as the customer asked it, before it is made."""

    network: str
    adding: bool
    # The API clients that called lately and would be refused 117 after it.
    refused: list[RecentClient]


class Limits(NamedTuple):
    """What the platform lets the account do (read-only for the customer)."""

    rate: int | None  # requests a second; None: no limit
    per_number: tuple[Window, ...]  # messages to one number within each window
    max_numbers_get: int
    max_numbers_post: int
    max_content_chars: int
    max_bound_addresses: int
    refund_on_failure: bool
    api_send: bool
    frozen: bool
    ext_code: str
    gateway: str  # the number replies to the account come to


class CustomerSettings:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        gates: Gatekeeper,
        clock: Clock = now_ms,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._settings = settings
        self._db = db
        self._gates = gates
        self._clock = clock
        self._resolve = resolve

    def _as(self, uid: str, address: str = "", viewer: str = "") -> Operator:
        """The operator's use cases for the customer `uid` on its own account:
        the audit log says who (the uid) and from where; `viewer`: the operator
        viewing read-only (core then refuses every change)."""
        actor = Actor.customer(uid, address, viewer)
        return Operator(self._settings, self._db, actor=actor)

    async def summary(self, uid: str) -> AccountSummary:
        return await self._as(uid).show(uid)

    def limits(self, summary: AccountSummary) -> Limits:
        s = self._settings
        return Limits(
            rate=summary.rate_limit,
            per_number=parse_windows(summary.per_number),
            max_numbers_get=s.max_numbers_get,
            max_numbers_post=s.max_numbers_post,
            max_content_chars=s.max_content_chars,
            max_bound_addresses=s.max_bound_addresses,
            refund_on_failure=summary.refund_on_failure,
            api_send=summary.api_send,
            frozen=summary.frozen,
            ext_code=summary.ext_code,
            gateway=self._as(summary.uid).gateway_number(summary),
        )

    # -- IP binding ----------------------------------------------------------

    def recent_clients(self, summary: AccountSummary) -> list[RecentClient]:
        """The addresses the account's API clients called from lately (this process's)."""
        since = self._clock() - RECENT_MS
        return self._gates.recent_clients.of(summary.id, since)

    async def preview(self, uid: str, text: str, *, adding: bool) -> BindingChange:
        """What binding (or unbinding) `text` would do to the clients calling now;
        `BindingRefused` when it is no address or range."""
        summary = await self._as(uid).show(uid)
        network = parse_network(text)
        bound = list(summary.networks)
        after = [*bound, network] if adding else [n for n in bound if n != network]
        refused = refused_after(bound, after, self.recent_clients(summary))
        return BindingChange(network, adding, refused)

    async def bind(self, uid: str, text: str, address: str = "", viewer: str = "") -> str:
        """Bind an address or range (`BindingRefused`: invalid, duplicate, full);
        `address`: where the customer asks from; `viewer`: the session's."""
        network = await self._as(uid, address, viewer).bind_address(uid, text)
        await self._gates.refresh()  # this process's gates apply it to the next request
        return network

    async def unbind(self, uid: str, text: str, address: str = "", viewer: str = "") -> str:
        """Remove a binding (`NotFound` when it is not bound)."""
        network = await self._as(uid, address, viewer).unbind_address(uid, text)
        await self._gates.refresh()
        return network

    # -- push ------------------------------------------------------------------

    async def push_target(self, uid: str) -> push_store.Target | None:
        return await self._as(uid).push_target(uid)

    async def set_push(
        self,
        uid: str,
        *,
        replies: str,
        reports: str,
        method: str,
        secret: str | None,
        batch: bool,
        address: str = "",
        viewer: str = "",
    ) -> push_store.Target | None:
        """Push settings as the form gives them; `secret` None keeps the stored one."""
        return await self._as(uid, address, viewer).set_push(
            uid, replies=replies, reports=reports, method=method, secret=secret, batch=batch
        )

    async def push_off(self, uid: str, address: str = "", viewer: str = "") -> None:
        await self._as(uid, address, viewer).push_off(uid)

    async def test_push(self, uid: str, kind: OutboxKind) -> ProbeResult:
        """One signed test request to the account's URL of that kind, and its answer."""
        customer = self._as(uid)
        summary = await customer.show(uid)
        target = await customer.push_target(uid)
        url = (
            ""
            if target is None
            else (target.reports_url if kind == OutboxKind.REPORT else target.replies_url)
        )
        if target is None or not url:
            raise InvalidInput(f"no {kind} URL is set")
        gateway = customer.gateway_number(summary)
        return await test_push(
            self._settings, target, kind, uid, gateway, self._clock(), self._resolve
        )

    async def push_attempts(self, account_id: int) -> list[attempt_log.Attempt]:
        """The account's latest push requests and what they got, the newest first."""
        return await self._db.read_sync(
            lambda conn: attempt_log.latest(conn, account_id, SHOWN_ATTEMPTS)
        )
