"""The account gates of every customer request, in PROTOCOL.md's order:
maintenance 120, lockout 114, credentials 101, frozen 109, IP binding 117,
then for sending: API sending off 116, platform paused 111.

The lockout is checked before the password: were a correct password let
through to a different answer while locked, the lock would tell a guesser
when it had guessed right.

What the gates read (accounts, switches, keywords, locks) is cached in the
process and refreshed by polling the store; every operator change bumps a
counter, so a change made in another process applies within one poll.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable

from sqlalchemy import Connection

from hongyan.config import Settings
from hongyan.core.content import KeywordFilter
from hongyan.core.credentials import api_key_digest, api_password_matches
from hongyan.core.models import Account, IPNetwork
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat
from hongyan.store import accounts as account_store
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

log = logging.getLogger(__name__)


def _networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class Gatekeeper:
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self._trusted = _networks(settings.trusted_proxies)
        self._accounts: dict[str, Account | None] = {}
        self._generation: int | None = None
        self._locks: dict[tuple[str, str], int] = {}
        # A digest to compare against for an unknown uid, so both paths cost the same.
        self._decoy = api_key_digest(settings.secret, "0" * 32)
        self.maintenance = False
        self.paused = False
        self.keywords = KeywordFilter(())

    # -- the cache ---------------------------------------------------------

    async def refresh(self) -> None:
        """Pick up switches, keywords, locks and account changes from the store."""
        async with self._db.read() as conn:
            state = await system.read_state(conn)
            generation = state.get(system.GENERATION, 0)
            if generation != self._generation:
                self.keywords = KeywordFilter(await system.list_keywords(conn))
            now = now_ms()
            stored_locks = await system.active_locks(conn, now)
        # A lock this process set after the read above is not in it yet: keep it.
        self._locks = stored_locks | {k: v for k, v in self._locks.items() if v > now}
        self.maintenance = bool(state.get(system.MAINTENANCE, 0))
        self.paused = bool(state.get(system.PAUSED, 0))
        if generation != self._generation:
            self._accounts.clear()
            self._generation = generation

    async def keep_fresh(self) -> None:
        """Poll for changes until cancelled."""
        while True:
            await asyncio.sleep(self._settings.reload_interval_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing account gates failed")

    async def account(self, uid: str) -> Account | None:
        if uid in self._accounts:
            return self._accounts[uid]
        generation = self._generation
        async with self._db.read() as conn:
            account = await account_store.load_account(conn, uid)
        if generation != self._generation:
            return account  # changed while loading: the row may predate the change
        if len(self._accounts) > 100_000:  # bounded against floods of made-up uids
            self._accounts.clear()
        self._accounts[uid] = account
        return account

    # -- the gates ---------------------------------------------------------

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The socket peer, or the first untrusted hop of X-Forwarded-For behind a trusted proxy."""
        if not forwarded_for or not self._is_trusted(peer):
            return peer
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            if hop and not self._is_trusted(hop):
                return hop if _address(hop) is not None else peer
        return peer

    def _is_trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in net for net in self._trusted)

    async def admit(self, uid: str, pwd: str, address: str, *, sending: bool) -> Account:
        """The account if every gate lets the request through; else `Rejected`."""
        if self.maintenance:
            raise Rejected(Stat.MAINTENANCE)
        if self._locks.get((uid, address), 0) > now_ms():
            raise Rejected(Stat.ACCOUNT_LOCKED)
        account = await self.account(uid) if uid else None
        digest = account.api_key_digest if account else self._decoy
        if not api_password_matches(self._settings.secret, pwd, digest) or account is None:
            await self._record_failure(uid, address)
            raise Rejected(Stat.AUTH_FAILED)
        if account.frozen:
            raise Rejected(Stat.ACCOUNT_FROZEN)
        if account.networks and not self._bound(account.networks, address):
            raise Rejected(Stat.IP_NOT_BOUND)
        if sending and not account.api_send:
            raise Rejected(Stat.API_SENDING_DISABLED)
        if sending and self.paused:
            raise Rejected(Stat.SENDING_PAUSED)
        return account

    @staticmethod
    def _bound(networks: tuple[IPNetwork, ...], text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in net for net in networks)

    async def _record_failure(self, uid: str, address: str) -> None:
        locked_until = await self._db.write(
            self._count_failures, (uid[:64], address[:64], now_ms())
        )
        if locked_until:
            self._locks[(uid, address)] = locked_until
            log.warning("login locked", extra={"uid": uid[:64], "address": address})

    def _count_failures(self, conn: Connection, attempts: list[tuple[str, str, int]]) -> list[int]:
        """Group-commit handler: count failed logins, lock at the limit."""
        s = self._settings
        return system.record_failures(
            conn,
            attempts,
            limit=s.lockout_failures,
            window_ms=s.lockout_window_s * 1000,
            lock_ms=s.lockout_duration_s * 1000,
        )
