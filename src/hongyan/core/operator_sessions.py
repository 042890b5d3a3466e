"""Operators' sign-in and sessions in the operator console.

Sign-in is a name, a password, and a TOTP code once the operator has set
one up. Every refusal says the same thing, whether the name exists, the
password or the code was wrong, the operator is disabled or locked, and an
unknown name costs the same Argon2 check (against a decoy hash), so neither
the answer nor its time tells which names exist (OWASP Authentication
Cheat Sheet, "Authentication and Error Messages").

Failures are counted twice: on the operator's row (`lockout_failures` within
`lockout_window_s` lock that operator for `lockout_s`, wherever the guesses
come from; counted by the database, so parallel guesses each count) and per
client address (`address_failures`, whatever names it tries, lock the
address). An attempt counts against its address before any work is done and
is taken back when it succeeds, so parallel attempts see each other; a locked
address or operator is refused before any Argon2 check, and those checks run
a few at a time (core/operator_passwords.py). The address counts are kept in
this process: the operator console is one listener's, and a restart forgets
at most one window of them.

A TOTP code is good once: the operator's row keeps the last time step used,
and a sign-in is recorded only with a newer one (RFC 6238 §5.2).

Sessions are as the customer console's (core/sessions.py): a random token
in the browser, its SHA-256 in operator_sessions, idle and absolute
timeouts, a CSRF token each, a new token at every sign-in. A disabled
operator's sessions end, and the role is read with the session at every
request, so a role change is in force at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hongyan.config import Settings
from hongyan.core.audit import CONSOLE, Actor
from hongyan.core.lockout import FailureCount, count_failure, lockout_key
from hongyan.core.operator_passwords import decoy_hash, password_matches
from hongyan.core.operators import MAX_PASSWORD_LENGTH, NAME_MAX_LENGTH, Operators, totp_step
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
        if not self._reserve(client, now):  # a locked address learns nothing, costs nothing
            raise SignInRefused()
        stored = None
        if 0 < len(name) <= NAME_MAX_LENGTH:
            async with self._db.read() as conn:
                stored = await operator_store.by_name(conn, name)
        if stored is None:
            await password_matches(await decoy_hash(), password[:MAX_PASSWORD_LENGTH])
            raise SignInRefused()
        if not await self.operators.proves(stored, password, now):
            raise SignInRefused()
        step = None
        if stored.totp_secret:
            step = totp_step(stored.totp_secret, code, now / 1000, after=stored.totp_step)
            if step is None:
                await self.operators.count_failure(stored.id, now)
                raise SignInRefused()
        if stored.disabled:
            raise SignInRefused()
        # Recorded only if, meanwhile, the operator was not locked or disabled and
        # the code was not used by another sign-in.
        async with self._db.transaction() as conn:
            recorded = await operator_store.signed_in(conn, stored.id, now, step)
        if not recorded:
            await self.operators.count_failure(stored.id, now)
            raise SignInRefused()
        self._taken_back(client)
        return await self._start(stored.id, address)

    def _reserve(self, client: str, now: int) -> bool:
        """Count an attempt against its client address before anything is awaited,
        so parallel attempts count each other; False, counting nothing, while the
        address is locked."""
        kept = self._addresses.pop(client, None)
        if kept is not None and kept.locked_until > now:
            self._addresses[client] = kept
            return False
        s = self._settings
        self._addresses[client] = count_failure(
            kept,
            now,
            limit=s.address_failures,
            window_ms=s.lockout_window_s * 1000,
            lock_ms=s.lockout_s * 1000,
        )
        while len(self._addresses) > _ADDRESSES_KEPT:
            del self._addresses[next(iter(self._addresses))]
        return True

    def _taken_back(self, client: str) -> None:
        """An attempt succeeded: it is no failure of its address (others stay)."""
        kept = self._addresses.get(client)
        if kept is None:
            return
        failures = kept.failures - 1
        if failures <= 0:
            del self._addresses[client]
            return
        locked_until = kept.locked_until if failures >= self._settings.address_failures else 0
        self._addresses[client] = FailureCount(failures, kept.window_start, locked_until)

    async def _start(self, operator_id: int, address: str) -> OperatorSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db.transaction() as conn:
            await operator_store.create_session(conn, _hash(token), operator_id, csrf, now, address)
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
        if not self._reserve(client, now):
            raise SignInRefused()
        async with self._db.read() as conn:
            stored = await operator_store.by_name(conn, session.name)
        if stored is None or not await self.operators.proves(stored, current, now):
            raise SignInRefused()
        self._taken_back(client)
        await self.operators.set_password(session.actor(address), session.name, new)
        return await self._start(session.operator_id, address)
