"""Operators: the people who run the platform, their roles, passwords and second factor.

Every change takes the `Actor` who makes it (core/audit.py): it checks the
actor's role first (`actor.require("operator.create")` ...), then makes the
change and writes its one audit entry in the same transaction. Passwords are
kept as Argon2 hashes (core/credentials.py, as the customers' console
passwords; hashed and checked off the event loop, core/operator_passwords.py),
TOTP seeds as base32 to check codes with; neither is ever put in an audit entry
or a log line, only the fact that it changed. Every action writes its entry,
also when nothing changed (before and after are then the same).

Rules that are not about roles:
- an operator may always change their own password and set up their own
  second factor (no role is needed to secure one's own sign-in), proving the
  current password to turn a second factor on;
- the platform keeps at least one enabled admin: the last one cannot be
  disabled or given another role (the CLI can always make a new one);
- the first operator is made by the CLI (`Actor.cli()`): nobody can sign in
  to the console before there is one.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core import audit
from hongyan.core.audit import Actor
from hongyan.core.operator_passwords import password_hash, password_matches
from hongyan.core.roles import ADMIN, ROLES
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import operators as operator_store
from hongyan.store import sessions as console_sessions
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.store.operators import StoredOperator

NAME_MAX_LENGTH = 64
_NAME = re.compile(rf"[A-Za-z0-9_.@-]{{1,{NAME_MAX_LENGTH}}}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # Argon2 takes any length; a bound keeps a request cheap
# A TOTP code is good in the 30 s step it is for and one step either side
# (RFC 6238 §5.2: allow for clock drift and the time to type it).
TOTP_VALID_WINDOW = 1


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """An operator as pages and commands show one (no hash, no seed)."""

    id: int
    name: str
    role: str
    disabled: bool
    totp_on: bool
    failures: int
    locked_until: int
    created_at: int
    updated_at: int
    signed_in_at: int | None

    @classmethod
    def from_stored(cls, stored: StoredOperator) -> OperatorRecord:
        return cls(
            id=stored.id,
            name=stored.name,
            role=stored.role,
            disabled=stored.disabled,
            totp_on=bool(stored.totp_secret),
            failures=stored.failures,
            locked_until=stored.locked_until,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            signed_in_at=stored.signed_in_at,
        )


def target(name: str) -> str:
    """The audit log's name of an operator."""
    return f"operator:{name}"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"an operator name is 1-{NAME_MAX_LENGTH} of letters, digits and _.@- characters"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


def check_password(password: str, name: str) -> None:
    """The rule for an operator's password, whoever sets it."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"an operator password has {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters"
        )
    if password.strip() != password or password.lower() == name.lower():
        raise InvalidInput("no spaces around the password, and not the operator's name")


# -- TOTP (RFC 6238) ------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh seed: 32 base32 characters, 160 bits (RFC 4226 §4 R6)."""
    return pyotp.random_base32()


def totp_uri(secret: str, name: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (from the QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


def totp_step(secret: str, code: str, at_s: float, *, after: int = 0) -> int | None:
    """The time step (RFC 6238 §4.2, T) whose code `code` is, if it is the seed's
    code at `at_s` (epoch seconds) give or take a step, and that step is later
    than `after` (the last one used: a code is good once, RFC 6238 §5.2)."""
    code = code.strip().replace(" ", "")
    if not secret or not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(at_s) // totp.interval
    found = None
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()) and step > after:
            found = step
    return found


def totp_matches(secret: str, code: str, at_s: float) -> bool:
    """Whether `code` is the seed's code at `at_s` (epoch seconds), give or take a step."""
    return totp_step(secret, code, at_s) is not None


def _valid_secret(secret: str) -> str:
    secret = secret.strip().upper()
    if not re.fullmatch(r"[A-Z2-7]{16,64}", secret):
        raise InvalidInput("the second factor's secret is not base32")
    return secret


# -- the use cases -----------------------------------------------------------------------------


class Operators:
    """Operators' use cases, for the CLI and the console's operator pages."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = now_ms) -> None:
        self._settings = settings
        self._db = db
        self._clock = clock

    async def list(self) -> list[OperatorRecord]:
        async with self._db.read() as conn:
            return [OperatorRecord.from_stored(s) for s in await operator_store.every(conn)]

    async def get(self, name: str) -> OperatorRecord:
        async with self._db.read() as conn:
            stored = await operator_store.by_name(conn, name)
        if stored is None:
            raise NotFound(f"no operator {name!r}")
        return OperatorRecord.from_stored(stored)

    async def create(self, actor: Actor, name: str, role: str, password: str) -> OperatorRecord:
        actor.require("operator.create")
        check_name(name)
        check_role(role)
        check_password(password, name)
        hashed = await password_hash(password)
        now = self._clock()
        async with self._db.transaction() as conn:
            if await operator_store.by_name(conn, name) is not None:
                raise InvalidInput(f"operator {name!r} already exists")
            await operator_store.insert(conn, name, role, hashed, now)
            await audit.record(conn, actor, "operator.create", target(name), after={"role": role})
        return await self.get(name)

    async def disable(self, actor: Actor, name: str) -> OperatorRecord:
        """Disabled: cannot sign in, and every session of theirs ends now."""
        actor.require("operator.disable")
        async with self._db.transaction() as conn:
            stored = await self._found(conn, name)
            if not stored.disabled:
                if stored.role == ADMIN:
                    await self._keep_an_admin(conn)
                await operator_store.change(conn, stored.id, self._clock(), disabled=True)
                await operator_store.end_sessions_of(conn, stored.id)
                await console_sessions.end_viewing(conn, name)  # their views as a customer
            await audit.record(
                conn,
                actor,
                "operator.disable",
                target(name),
                before={"disabled": stored.disabled},
                after={"disabled": True},
            )
        return await self.get(name)

    async def enable(self, actor: Actor, name: str) -> OperatorRecord:
        """Enabled again; a lock from failed sign-ins is lifted with it."""
        actor.require("operator.enable")
        async with self._db.transaction() as conn:
            stored = await self._found(conn, name)
            if stored.disabled or stored.locked_until:
                await operator_store.change(
                    conn,
                    stored.id,
                    self._clock(),
                    disabled=False,
                    failures=0,
                    failures_since=0,
                    locked_until=0,
                )
            await audit.record(
                conn,
                actor,
                "operator.enable",
                target(name),
                before={"disabled": stored.disabled, "locked": bool(stored.locked_until)},
                after={"disabled": False, "locked": False},
            )
        return await self.get(name)

    async def set_role(self, actor: Actor, name: str, role: str) -> OperatorRecord:
        """Another role, in force from the operator's next request."""
        actor.require("operator.role")
        check_role(role)
        async with self._db.transaction() as conn:
            stored = await self._found(conn, name)
            if stored.role != role:
                if stored.role == ADMIN and not stored.disabled:
                    await self._keep_an_admin(conn)
                await operator_store.change(conn, stored.id, self._clock(), role=role)
                await console_sessions.end_viewing(conn, name)  # their views as a customer
            await audit.record(
                conn,
                actor,
                "operator.role",
                target(name),
                before={"role": stored.role},
                after={"role": role},
            )
        return await self.get(name)

    async def set_password(self, actor: Actor, name: str, password: str) -> OperatorRecord:
        """A new password for `name`: an admin's action, or the operator's own.
        Every session of theirs ends (a session started with the old one is not
        trusted with the new)."""
        if actor.operator_id is None or actor.name != name:
            actor.require("operator.password")
        check_password(password, name)
        hashed = await password_hash(password)
        async with self._db.transaction() as conn:
            stored = await self._found(conn, name)
            await operator_store.change(
                conn, stored.id, self._clock(), password_hash=hashed, failures=0, failures_since=0
            )
            await operator_store.end_sessions_of(conn, stored.id)
            await console_sessions.end_viewing(conn, name)  # their views as a customer
            await audit.record(
                conn, actor, "operator.password", target(name), after={"password": "changed"}
            )
        return await self.get(name)

    async def reset_totp(self, actor: Actor, name: str) -> OperatorRecord:
        """The second factor removed (a lost phone): the operator signs in with
        the password alone and sets up a new one."""
        actor.require("operator.totp")
        async with self._db.transaction() as conn:
            stored = await self._found(conn, name)
            if stored.totp_secret:
                # totp_step stays: steps are times, and a time's code is used once.
                await operator_store.change(conn, stored.id, self._clock(), totp_secret="")
                await operator_store.end_sessions_of(conn, stored.id)
            await audit.record(
                conn,
                actor,
                "operator.totp",
                target(name),
                before={"totp": bool(stored.totp_secret)},
                after={"totp": False},
            )
        return await self.get(name)

    async def enable_totp(
        self, actor: Actor, password: str, secret: str, code: str
    ) -> OperatorRecord:
        """The signed-in operator's own second factor, with their current password
        (a session left open is not enough to take the account over), active once
        a code of it is right (so a mistyped or unscanned seed never locks them
        out). A wrong password counts toward the operator's lock, as at sign-in."""
        if actor.operator_id is None:
            raise InvalidInput("a second factor is set up by the operator it is for")
        secret = _valid_secret(secret)
        now = self._clock()
        async with self._db.read() as conn:
            stored = await self._found(conn, actor.name)
        if stored.totp_secret:
            raise InvalidInput("a second factor is already set up")
        if not await self.proves(stored, password, now):
            raise InvalidInput("that is not your current password (or too many attempts)")
        step = totp_step(secret, code, now / 1000)
        if step is None:
            raise InvalidInput("that code is not right: check the time on the phone and retry")
        async with self._db.transaction() as conn:
            # The step is used: the same code cannot sign in after it.
            used = max(step, stored.totp_step)
            if not await operator_store.set_totp(conn, stored.id, now, secret, used):
                raise InvalidInput("a second factor is already set up")
            await audit.record(
                conn,
                actor,
                "operator.totp",
                target(actor.name),
                before={"totp": False},
                after={"totp": True},
            )
        return await self.get(actor.name)

    async def proves(self, stored: StoredOperator, password: str, now: int) -> bool:
        """Whether `password` is the operator's. A locked operator is refused before
        any hashing; a wrong password counts toward the lock."""
        if stored.locked_until > now:
            return False
        if await password_matches(stored.password_hash, password[:MAX_PASSWORD_LENGTH]):
            return True
        await self.count_failure(stored.id, now)
        return False

    async def count_failure(self, operator_id: int, now: int) -> bool:
        """A failed sign-in (or proof of the password) of this operator, counted in
        the database: `lockout_failures` within `lockout_window_s` lock the
        operator for `lockout_s`. Whether this one locked it."""
        s = self._settings.admin
        async with self._db.transaction() as conn:
            return await operator_store.count_failure(
                conn,
                operator_id,
                now,
                window_ms=s.lockout_window_s * 1000,
                limit=s.lockout_failures,
                lock_ms=s.lockout_s * 1000,
            )

    async def _found(self, conn: AsyncConnection, name: str) -> StoredOperator:
        stored = await operator_store.by_name(conn, name)
        if stored is None:
            raise NotFound(f"no operator {name!r}")
        return stored

    async def _keep_an_admin(self, conn: AsyncConnection) -> None:
        # The admins' rows stay locked to the end of the transaction (PostgreSQL):
        # a parallel change of another admin waits, then counts again.
        if await operator_store.lock_active_admins(conn, ADMIN) <= 1:
            raise InvalidInput("the last enabled admin cannot be disabled or given another role")
