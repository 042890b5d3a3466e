"""Console sessions: who a browser is signed in as, and for how long.

Server-side: the browser holds a random token (256 bits), the store keeps
its SHA-256, so a session ends for certain when it is deleted (sign-out, a
password change, an operator) and a leaked table signs no one in. A new
token is made at every sign-in (no session fixation); a session ends after
`idle_timeout_s` without a request and `max_age_s` after sign-in (OWASP
Session Management Cheat Sheet). Each session has its own CSRF token, which
every state-changing request must carry.

An operator may open an account's console as the customer sees it
(`start_viewing`): a session like the customer's, marked with the viewing
operator (`viewer`), that ends `VIEW_MS` after it began and in which the
console refuses every change (console/web.py) and so does core (the
session's `viewer` goes into the customer's `Actor`); opening it is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hongyan.config import Settings
from hongyan.core import audit
from hongyan.core.access import AccessOperator
from hongyan.core.admin_base import account_target
from hongyan.core.audit import Actor
from hongyan.core.gates import Gatekeeper
from hongyan.core.models import Account
from hongyan.core.roles import ROLES
from hongyan.errors import Forbidden, InvalidInput, NotFound
from hongyan.store import accounts as account_store
from hongyan.store import sessions as session_store
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms

# A session's last-seen time is written at most this often (reads stay reads).
TOUCH_EVERY_MS = 60_000
MIN_PASSWORD_LENGTH = 8
# An operator's read-only view of an account's console ends this long after it began.
VIEW_MS = 30 * 60_000


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    account_id: int
    uid: str
    csrf: str
    # The operator viewing the account read-only; "" for the customer's own session.
    viewer: str = ""

    @property
    def read_only(self) -> bool:
        return bool(self.viewer)

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode("utf-8", "replace"))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def check_new_password(password: str, uid: str) -> None:
    """The rule for a password a customer chooses (the operator's CLI may set any)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or password.lower() == uid.lower():
        raise InvalidInput("no spaces around it, and not the uid")


class ConsoleSessions:
    def __init__(
        self, settings: Settings, db: Database, gates: Gatekeeper, clock: Clock = now_ms
    ) -> None:
        self._db = db
        self._gates = gates
        self._clock = clock
        self._settings = settings
        self._idle_ms = settings.console.idle_timeout_s * 1000
        self._max_ms = settings.console.max_age_s * 1000

    async def sign_in(self, uid: str, password: str, address: str) -> tuple[Session, Account]:
        """A new session after the gates' sign-in check (`Rejected` 101 or 114)."""
        account = await self._gates.sign_in(uid, password, address)
        return await self._start(account.id, account.uid, address), account

    async def _start(self, account_id: int, uid: str, address: str) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self._db.transaction() as conn:
            await session_store.create(conn, _hash(token), account_id, csrf, self._clock(), address)
        return Session(token, account_id, uid, csrf)

    async def start_viewing(self, actor: Actor, uid: str) -> Session:
        """A read-only session of `uid`'s console for an operator (any operator's
        role; never a customer), with its audit entry in the same transaction."""
        if actor.role not in ROLES:
            raise Forbidden(f"the {actor.role} role does not allow account.view")
        actor.require("account.view", account=uid)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db.transaction() as conn:
            account = await account_store.load_summary(conn, uid)
            if account is None:
                raise NotFound(f"no account {uid!r}")
            await session_store.create(
                conn, _hash(token), account.id, csrf, now, actor.address, viewer=actor.name
            )
            # The fact and its bound, never the session's token.
            await audit.record(
                conn,
                actor,
                "account.view",
                account_target(uid),
                after={"read_only": True, "minutes": VIEW_MS // 60_000},
            )
        return Session(token, account.id, uid, csrf, viewer=actor.name)

    async def current(self, token: str) -> Session | None:
        """The session this token is, if it has not ended or timed out."""
        if not token or len(token) > 100:
            return None
        key = _hash(token)
        async with self._db.read() as conn:
            stored = await session_store.find(conn, key)
        if stored is None:
            return None
        now = self._clock()
        longest = VIEW_MS if stored.viewer else self._max_ms
        if now - stored.seen_at > self._idle_ms or now - stored.created_at > longest:
            async with self._db.transaction() as conn:
                await session_store.end(conn, key)
            return None
        if now - stored.seen_at > TOUCH_EVERY_MS:
            async with self._db.transaction() as conn:
                await session_store.touch(conn, key, now)
        return Session(token, stored.account_id, stored.uid, stored.csrf, stored.viewer)

    async def sign_out(self, token: str) -> None:
        async with self._db.transaction() as conn:
            await session_store.end(conn, _hash(token))

    async def change_password(
        self, session: Session, current: str, new: str, address: str
    ) -> Session:
        """A new login password (and with it the API `pwd`) after the current one
        is proved; every session of the account ends and this browser gets a new one.
        `Forbidden` in an operator's read-only view, before the password is tried."""
        customer = Actor.customer(session.uid, address, session.viewer)
        customer.require("account.password", account=session.uid)
        # Proved as a sign-in is: a wrong guess counts toward the same lock (114),
        # so a borrowed session cannot try passwords without limit.
        await self._gates.sign_in(session.uid, current, address)
        check_new_password(new, session.uid)
        await AccessOperator(self._settings, self._db, actor=customer).set_password(
            session.uid, new
        )
        await self._gates.refresh()  # this process answers with the new pwd at once
        return await self._start(session.account_id, session.uid, address)
