"""Operators' sign-in and sessions in the operator console.

Sign-in is a name, a password, and a TOTP code once the operator has set
one up. Every refusal says the same thing, whether the name exists, the
password or the code was wrong, the operator is disabled or locked, and an
unknown name costs the same Argon2 check (against a decoy hash), so neither
the answer nor its time tells which names exist (OWASP Authentication
Cheat Sheet, "Authentication and Error Messages").

Failures are counted twice: on the operator's row (`lockout_failures` lock
that operator for `lockout_s`, wherever the guesses come from) and per client
address (`address_failures`, whatever names it tries, lock the address). The
address counts are kept in this process: the operator console is one
listener's, and a restart forgets at most one window of them.

Sessions are as the customer console's (core/sessions.py): a random token
in the browser, its SHA-256 in operator_sessions, idle and absolute
timeouts, a CSRF token each, a new token at every sign-in. A disabled
operator's sessions end, and the role is read with the session at every
request, so a role change is in force at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

from hongyan.config import Settings
from hongyan.core.audit import CONSOLE, Actor
from hongyan.core.credentials import console_hash, console_password_matches
from hongyan.core.lockout import FailureCount, count_failure, lockout_key
from hongyan.core.operators import MAX_PASSWORD_LENGTH, NAME_MAX_LENGTH, Operators, totp_matches
from hongyan.errors import HongyanError
from hongyan.store import operators as operator_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms

# A session's last-seen time is written at most this often (reads stay reads).
TOUCH_EVERY_MS = 60_000
# Client addresses whose failures are kept at once; the oldest go first.
_ADDRESSES_KEPT = 10_000


class SignInRefused(HongyanError):
    """A sign-in refused; one message whatever the reason."""

    def __init__(self) -> None:
        super().__init__("wrong name, password or code, or too many attempts: wait and retry")


@dataclass(frozen=True, slots=True)
class OperatorSession:
    token: str
    operator_id: int
    name: str
    role: str
    csrf: str
    totp_on: bool

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode("utf-8", "replace"))

    def actor(self, address: str) -> Actor:
        """The operator behind this session, as the audit log names them."""
        return Actor(self.name, self.role, CONSOLE, address, self.operator_id)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@cache
def _decoy_hash() -> str:
    """What an unknown name's password is checked against: as costly as a real one."""
    return console_hash("no operator has this password")


class OperatorSessions:
    def __init__(self, settings: Settings, db: Database, clock: Clock = now_ms) -> None:
        self._settings = settings.admin
        self._db = db
        self._clock = clock
        self.operators = Operators(settings, db, clock)
        self._idle_ms = self._settings.idle_timeout_s * 1000
        self._max_ms = self._settings.max_age_s * 1000
        self._addresses: dict[str, FailureCount] = {}

    def now(self) -> int:
        """The time sessions and locks are judged by (epoch ms)."""
        return self._clock()

    # -- signing in ---------------------------------------------------------------------

    async def sign_in(self, name: str, password: str, code: str, address: str) -> OperatorSession:
        """A new session, or `SignInRefused`."""
        now = self._clock()
        client = lockout_key(address)
        kept = self._addresses.get(client)
        address_locked = kept is not None and kept.locked_until > now
        stored = None
        if 0 < len(name) <= NAME_MAX_LENGTH:
            async with self._db.read() as conn:
                stored = await operator_store.by_name(conn, name)
        password = password[:MAX_PASSWORD_LENGTH]
        hashed = stored.password_hash if stored is not None else _decoy_hash()
        matches = await asyncio.to_thread(console_password_matches, hashed, password)
        if address_locked:  # nothing counts from a locked address: it learns nothing
            raise SignInRefused()
        if stored is None or stored.locked_until > now or not matches:
            await self._failed(stored, client, now)
            raise SignInRefused()
        if stored.totp_secret and not totp_matches(stored.totp_secret, code, now / 1000):
            await self._failed(stored, client, now)
            raise SignInRefused()
        if stored.disabled:
            raise SignInRefused()
        self._addresses.pop(client, None)
        return await self._start(stored.id, address, signed_in=True)

    async def _failed(
        self, stored: operator_store.StoredOperator | None, client: str, now: int
    ) -> None:
        s = self._settings
        window_ms, lock_ms = s.lockout_window_s * 1000, s.lockout_s * 1000
        self._addresses[client] = count_failure(
            self._addresses.pop(client, None),
            now,
            limit=s.address_failures,
            window_ms=window_ms,
            lock_ms=lock_ms,
        )
        while len(self._addresses) > _ADDRESSES_KEPT:
            del self._addresses[next(iter(self._addresses))]
        if stored is None or stored.locked_until > now:
            return
        # The row keeps a count and a lock end; the count starts again after a
        # lock, so `lockout_failures` more guesses lock it again.
        failures = stored.failures + 1
        if failures >= s.lockout_failures:
            failures, locked_until = 0, now + lock_ms
        else:
            locked_until = 0
        async with self._db.transaction() as conn:
            await operator_store.set_failures(conn, stored.id, failures, locked_until)

    async def _start(self, operator_id: int, address: str, *, signed_in: bool) -> OperatorSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db.transaction() as conn:
            await operator_store.create_session(conn, _hash(token), operator_id, csrf, now, address)
            if signed_in:
                await operator_store.signed_in(conn, operator_id, now)
            await operator_store.prune_sessions(conn, now - self._idle_ms, now - self._max_ms)
        found = await self.current(token)
        assert found is not None
        return found

    # -- a session -----------------------------------------------------------------------

    async def current(self, token: str) -> OperatorSession | None:
        """The session this token is, if it has not ended, timed out, or its operator
        been disabled."""
        if not token or len(token) > 100:
            return None
        key = _hash(token)
        async with self._db.read() as conn:
            stored = await operator_store.find_session(conn, key)
        if stored is None:
            return None
        now = self._clock()
        expired = now - stored.seen_at > self._idle_ms or now - stored.created_at > self._max_ms
        if expired or stored.disabled:
            async with self._db.transaction() as conn:
                await operator_store.end_session(conn, key)
            return None
        if now - stored.seen_at > TOUCH_EVERY_MS:
            async with self._db.transaction() as conn:
                await operator_store.touch_session(conn, key, now)
        return OperatorSession(
            token, stored.operator_id, stored.name, stored.role, stored.csrf, stored.totp_on
        )

    async def sign_out(self, token: str) -> None:
        async with self._db.transaction() as conn:
            await operator_store.end_session(conn, _hash(token))

    async def change_password(
        self, session: OperatorSession, current: str, new: str, address: str
    ) -> OperatorSession:
        """The operator's own new password, after the current one is proved (a wrong
        one counts toward the locks, as at sign-in); every session of theirs ends and
        this browser gets a new one."""
        now = self._clock()
        client = lockout_key(address)
        async with self._db.read() as conn:
            stored = await operator_store.by_name(conn, session.name)
        if stored is None:
            raise SignInRefused()
        matches = await asyncio.to_thread(
            console_password_matches, stored.password_hash, current[:MAX_PASSWORD_LENGTH]
        )
        kept = self._addresses.get(client)
        if not matches or stored.locked_until > now or (kept and kept.locked_until > now):
            await self._failed(stored, client, now)
            raise SignInRefused()
        await self.operators.set_password(session.actor(address), session.name, new)
        return await self._start(session.operator_id, address, signed_in=False)
