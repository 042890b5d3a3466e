"""The account gates of every customer request, in PROTOCOL.md's order:
maintenance 120, lockout 114, credentials 101, frozen 109, IP binding 117,
then for sending: API sending off 116, platform paused 111.

The lockout is checked before the password: were a correct password let
through to a different answer while locked, the lock would tell a guesser
when it had guessed right. Failures count per uid and client (an IPv4
address or an IPv6 /64: core/lockout.py).

Known accounts are cached; of the uids no account has, only the last
`UNKNOWN_UIDS_KEPT` looked up (a client retrying a wrong uid, from many
addresses, reads the store once); a uid longer than any account's is refused
before any lookup, so a client cannot fill the process's memory or the
store with made-up uids.
A refusal before the password (120, 114) reads nothing from the store: the
answer form it needs is the process's set of legacy uids (PROTOCOL.md
"Legacy dialect"), which only the operator makes longer.

What the gates read (accounts, switches, keywords, locks) is cached in the
process and refreshed by polling the store; every operator change bumps a
counter, so a change made in another process applies within one poll.
A poll reads only the locks set lately (`LOCKS_MARGIN_MS`): a guesser with
made-up uids sets a lock every five requests, and reading every active lock
twice a second would cost the event loop more the longer it goes on. All
are read again at a change (a lift bumps the counter) and every
`LOCKS_FULL_READ_S`, which also forgets the locks that ended.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict

from sqlalchemy import Connection

from hongyan.config import Settings
from hongyan.core.addresses import address, admits, networks
from hongyan.core.content import KeywordFilter
from hongyan.core.credentials import (
    StoredDigest,
    Verified,
    accepted_digests,
    console_hash,
    console_password_matches,
    verify,
)
from hongyan.core.lockout import lockout_key
from hongyan.core.models import UID_MAX_LENGTH, Account
from hongyan.core.recent_clients import RecentClients
from hongyan.errors import Rejected
from hongyan.keyfile import load_keyring
from hongyan.protocol.dialect import Dialect
from hongyan.protocol.stat import Stat
from hongyan.store import accounts as account_store
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms

log = logging.getLogger(__name__)

# A poll reads the locks ending later than the last one it saw, less this
# margin: a lock another process commits a little late, or whose clock is a
# little behind, is still read at the next poll; one later still, at the next
# full read.
LOCKS_MARGIN_MS = 10_000
LOCKS_FULL_READ_S = 60.0
# The uids found to name no account that a process remembers (least recently
# asked for forgotten first); all are forgotten at any operator change.
UNKNOWN_UIDS_KEPT = 1024


@functools.cache
def _decoy_hash() -> str:
    """What a console sign-in with an unknown uid is checked against: as costly as a real one."""
    return console_hash("no account has this password")


class Gatekeeper:
    def __init__(self, settings: Settings, db: Database, clock: Clock = now_ms) -> None:
        self._settings = settings
        self._db = db
        self._clock = clock  # lock ends and failure windows are on this time
        self._trusted = networks(settings.trusted_proxies)
        self._accounts: dict[str, Account] = {}
        self._unknown: OrderedDict[str, None] = OrderedDict()
        # The uids of the accounts answered in the legacy dialect; read with
        # the accounts' generation (every operator change bumps it).
        self._legacy: frozenset[str] = frozenset()
        self._generation: int | None = None
        # (uid, lockout key) → locked until; and the locks this process set,
        # with the count of locks set when each was, see `refresh`.
        self._locks: dict[tuple[str, str], int] = {}
        self._new_locks: dict[tuple[str, str], tuple[int, int]] = {}
        self._locks_set = 0
        # The latest end of a lock read, and when all were last read.
        self._newest_lock = 0
        self._locks_read_at = float("-inf")
        self.keys = load_keyring(settings)
        self._keys_read_at = time.monotonic()
        # A digest to compare against for an unknown uid, so both paths cost the same.
        self._decoy = self.keys.digest("0" * 32)
        self.maintenance = False
        self.paused = False
        self.keywords = KeywordFilter(())
        # Where each account's API clients called from lately, for the console's
        # warning before a binding change that would refuse them (per process).
        self.recent_clients = RecentClients()

    # -- the cache ---------------------------------------------------------

    async def refresh(self) -> None:
        """Pick up switches, keywords, locks and account changes from the store."""
        async with self._db.read() as conn:
            state = await system.read_state(conn)
            generation = state.get(system.GENERATION, 0)
            if generation != self._generation:
                self.keywords = KeywordFilter(await system.list_keywords(conn))
                self._legacy = await account_store.uids_with_dialect(conn, Dialect.LEGACY)
            now = self._clock()
            all_locks = (
                generation != self._generation
                or time.monotonic() - self._locks_read_at > LOCKS_FULL_READ_S
            )
            since = now if all_locks else max(now, self._newest_lock - LOCKS_MARGIN_MS)
            read_at = time.monotonic()
            locks_set_before = self._locks_set
            stored_locks = await system.active_locks(conn, since)
        # The store has every lock this process set before the read began (each
        # is committed before it is counted), and no lock the operator lifted;
        # a lock set since may be missing from the read: keep those.
        self._new_locks = {
            k: (until, n) for k, (until, n) in self._new_locks.items() if n > locks_set_before
        }
        if all_locks:
            self._locks = stored_locks | {k: until for k, (until, _) in self._new_locks.items()}
            self._locks_read_at = read_at
        else:
            self._locks.update(stored_locks)
        self._newest_lock = max(self._newest_lock, max(stored_locks.values(), default=0))
        if state.get(system.KEY_VERSION, 0) > self.keys.current:
            self._reload_keys()
        self.maintenance = bool(state.get(system.MAINTENANCE, 0))
        self.paused = bool(state.get(system.PAUSED, 0))
        if generation != self._generation:
            self._accounts.clear()
            self._unknown.clear()
            self._generation = generation

    async def keep_fresh(self) -> None:
        """Poll for changes until cancelled."""
        while True:
            await asyncio.sleep(self._settings.reload_interval_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing account gates failed")

    def _reload_keys(self) -> None:
        """Read the key file again (after `hongyan secret rotate`): a small local file."""
        self._keys_read_at = time.monotonic()
        ring = load_keyring(self._settings, self.keys)
        if ring.current > self.keys.current:
            log.info("server key version %d is current", ring.current)
        self.keys = ring

    @property
    def cached_accounts(self) -> int:
        return len(self._accounts)

    @property
    def unknown_uids_kept(self) -> int:
        return len(self._unknown)

    async def account(self, uid: str) -> Account | None:
        if uid in self._accounts:
            return self._accounts[uid]
        if len(uid) > UID_MAX_LENGTH:
            return None
        if uid in self._unknown:
            self._unknown.move_to_end(uid)
            return None
        generation = self._generation
        async with self._db.read() as conn:
            account = await account_store.load_account(conn, uid)
        if generation != self._generation:
            return account  # changed while loading: the row may predate the change
        if account is None:
            self._unknown[uid] = None
            if len(self._unknown) > UNKNOWN_UIDS_KEPT:
                self._unknown.popitem(last=False)
            return None
        if len(self._accounts) > 100_000:  # more accounts than a process keeps
            self._accounts.clear()
        self._accounts[uid] = account
        return account

    # -- the gates ---------------------------------------------------------

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The socket peer, or the first untrusted hop of X-Forwarded-For behind a trusted proxy."""
        if not forwarded_for or not self.is_trusted_proxy(peer):
            return peer
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            if hop and not self.is_trusted_proxy(hop):
                return hop if address(hop) is not None else peer
        return peer

    def is_trusted_proxy(self, text: str) -> bool:
        judged = address(text)
        return judged is not None and any(judged in net for net in self._trusted)

    async def admit(self, uid: str, pwd: str, address: str, *, sending: bool) -> Account:
        """The account if every gate lets the request through; else `Rejected`."""
        # Refusals are in the answer form of the account the uid names, as
        # PROTOCOL.md "Legacy dialect" gives them (`101||0` on its /mm/), also
        # before the password: its client must read them. Known without a
        # read (a guesser's requests cost the store nothing until the lookup
        # the password needs; none at all in maintenance or once locked).
        dialect = Dialect.LEGACY if uid in self._legacy else None
        if self.maintenance:
            raise Rejected(Stat.MAINTENANCE, dialect=dialect)
        if len(uid) > UID_MAX_LENGTH:
            # No account has such a uid (the schema's width): refused before
            # any lookup, cache or failure count (issue 11 item 1).
            raise Rejected(Stat.AUTH_FAILED, "uid too long")
        client = lockout_key(address)
        if self._locks.get((uid, client), 0) > self._clock():
            raise Rejected(Stat.ACCOUNT_LOCKED, dialect=dialect)
        account = await self.account(uid) if uid else None
        dialect = account.dialect if account is not None else None
        verified = self._verify(account, pwd)
        if verified is None or account is None:
            await self._record_failure(uid, client)
            raise Rejected(Stat.AUTH_FAILED, dialect=dialect)
        if verified.rekeyed is not None:
            await self._rekey(account, verified, verified.rekeyed)
        if account.frozen:
            raise Rejected(Stat.ACCOUNT_FROZEN, dialect=dialect)
        if not admits(account.networks, address):
            raise Rejected(Stat.IP_NOT_BOUND, dialect=dialect)
        # Noted before the sending gates: a client refused 116 or 111 still calls from here.
        self.recent_clients.saw(account.id, address, self._clock())
        if sending and not account.api_send:
            raise Rejected(Stat.API_SENDING_DISABLED, dialect=dialect)
        if sending and self.paused:
            raise Rejected(Stat.SENDING_PAUSED, dialect=dialect)
        return account

    async def sign_in(self, uid: str, password: str, address: str) -> Account:
        """The account a console sign-in with its login password is, or `Rejected`.

        The lockout and the count of failures are the API's own (gate 3): a
        guess on the console counts with the guesses at `pwd` from the same
        client, and a lock stops both. The Argon2 check (tens of ms of CPU)
        runs off the event loop; an unknown uid costs the same check."""
        if not uid or len(uid) > UID_MAX_LENGTH:
            raise Rejected(Stat.AUTH_FAILED, "no such uid")
        client = lockout_key(address)
        if self._locks.get((uid, client), 0) > self._clock():
            raise Rejected(Stat.ACCOUNT_LOCKED)
        account = await self.account(uid)
        stored = _decoy_hash()
        if account is not None:
            async with self._db.read() as conn:
                stored = await account_store.account_console_hash(conn, account.id)
        matches = await asyncio.to_thread(console_password_matches, stored, password)
        if account is None or not matches:
            await self._record_failure(uid, client)
            raise Rejected(Stat.AUTH_FAILED)
        return account

    async def signed_in(self, uid: str, *, sending: bool) -> Account:
        """The account of a signed-in console session, through the gates that
        are not about credentials or the API client's address: maintenance
        120, frozen 109, and for sending 116 and 111, in PROTOCOL.md's order."""
        if self.maintenance and sending:
            raise Rejected(Stat.MAINTENANCE)
        account = await self.account(uid)
        if account is None:
            raise Rejected(Stat.AUTH_FAILED, "account gone")
        if sending and account.frozen:
            raise Rejected(Stat.ACCOUNT_FROZEN)
        if sending and not account.api_send:
            raise Rejected(Stat.API_SENDING_DISABLED)
        if sending and self.paused:
            raise Rejected(Stat.SENDING_PAUSED)
        return account

    def _verify(self, account: Account | None, pwd: str) -> Verified | None:
        if account is None:
            self.keys.matches(pwd, self._decoy)  # the same cost as for an account
            return None
        accepted = accepted_digests(account)
        newest = max(stored.version for _, stored in accepted)
        if newest > self.keys.current and (
            time.monotonic() - self._keys_read_at > self._settings.reload_interval_s
        ):
            # Made by a process that already has a newer key (a rotation this
            # one has not polled yet): read the key file now rather than refuse.
            self._reload_keys()
        return verify(self.keys, pwd, accepted)

    async def _rekey(self, account: Account, verified: Verified, new: StoredDigest) -> None:
        """Move a digest on an older key to the current one (item 7: key rotation).

        A failure here costs nothing but a later retry: the request goes on."""
        old = verified.stored
        change = account_store.Rekey(
            account.id, verified.bare, old.digest, old.version, new.digest, new.version
        )
        try:
            await self._db.write(account_store.rekey, change)
        except Exception:
            log.warning("re-keying a stored digest failed", extra={"uid": account.uid})
        # Read again at the next request: the row now holds whichever digest won.
        self._accounts.pop(account.uid, None)

    async def _record_failure(self, uid: str, client: str) -> None:
        locked_until = await self._db.write(self._count_failures, (uid, client, self._clock()))
        if locked_until:
            self._locks_set += 1
            self._new_locks[(uid, client)] = (locked_until, self._locks_set)
            self._locks[(uid, client)] = locked_until
            log.warning("login locked", extra={"uid": uid, "address": client})

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
