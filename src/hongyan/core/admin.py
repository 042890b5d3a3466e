"""The operator's use cases: accounts, their money, limits and addresses.

The CLI and the console call these, for an `Actor` (core/audit.py): each
checks the actor's role first (`Forbidden`), validates its input
(`InvalidInput` / `NotFound`, with a message fit to show the operator), and
makes its change and its one audit entry in one transaction. Push settings
are in core/admin_push.py, switches, keywords and the simulated carrier in
core/admin_system.py, passwords, keys and lockouts in core/access.py.
"""

from __future__ import annotations

import asyncio
import re
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hongyan.config import Settings
from hongyan.core import extensions
from hongyan.core.access import AccessOperator
from hongyan.core.admin_base import account_target, fields, required_note
from hongyan.core.admin_push import PushSettings
from hongyan.core.admin_system import SystemSettings
from hongyan.core.audit import Actor
from hongyan.core.bindings import check_bind, parse_network
from hongyan.core.credentials import api_password, console_hash
from hongyan.core.limits import format_windows, parse_windows
from hongyan.core.models import UID_MAX_LENGTH, AccountSummary
from hongyan.errors import InvalidInput, NotFound
from hongyan.keyfile import load_keyring
from hongyan.store import accounts as account_store
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.system import bump_generation

DEMO_UID = "demo"
_UID = re.compile(rf"[A-Za-z0-9_.@-]{{1,{UID_MAX_LENGTH}}}")
# SMPP 3.4 §4.4.1: source_addr holds at most 20 digits; an extension code an
# operator chooses leaves room for the gateway prefix and a whole `mid`.
_GATEWAY_DIGITS = 20
_CREATED = ("balance", "ext_code", "rate_limit", "per_number")
# The most parts one top-up or deduction moves: far below PostgreSQL's BIGINT
# and SQLite's 2**63 (past which its integers become floats), whatever the balance.
MAX_PARTS = 10**12
# The largest balance a top-up may leave (so many top-ups cannot reach them either).
MAX_BALANCE = 10**15


class Operator(PushSettings, SystemSettings):
    def __init__(self, settings: Settings, db: Database, *, actor: Actor) -> None:
        super().__init__(settings, db, actor=actor)
        # Passwords, server keys, lockouts, answer dialect.
        self.access = AccessOperator(settings, db, actor=actor)

    async def create_account(self, uid: str, password: str, balance: int = 0) -> AccountSummary:
        self._require("account.create")
        if not _UID.fullmatch(uid):
            raise InvalidInput(f"uid must be 1-{UID_MAX_LENGTH} of letters, digits and _.@-")
        if not password:
            raise InvalidInput("password must not be empty")
        if not 0 <= balance <= MAX_BALANCE:
            raise InvalidInput(f"an opening balance is 0 to {MAX_BALANCE:,} parts")
        if await self.exists(uid):
            raise InvalidInput(f"account {uid!r} already exists")
        s = self._settings
        api = load_keyring(s).digest(api_password(password, uid))
        # Argon2 costs tens of milliseconds of CPU: not on the event loop.
        login_hash = await asyncio.to_thread(console_hash, password)
        async with self._db.transaction() as conn:
            try:
                await account_store.create_account(
                    conn,
                    uid=uid,
                    api_key_digest=api.digest,
                    key_version=api.version,
                    console_hash=login_hash,
                    balance=balance,
                    per_number=format_windows(parse_windows(s.default_per_number)),
                    rate_limit=s.default_rate,
                    now=now_ms(),
                )
            except IntegrityError:
                # Created by another request since the check above (the uid is unique).
                raise InvalidInput(f"account {uid!r} already exists") from None
            made = await self._locked(conn, uid)
            await self._record(
                conn, "account.create", account_target(uid), after=fields(made, _CREATED)
            )
        return made

    # -- money (the ledger) -------------------------------------------------------

    async def topup(self, uid: str, amount: int, note: str) -> int:
        """Add parts to the balance, with a note kept in the ledger; the new balance."""
        self._require("account.topup", uid)
        if not 0 < amount <= MAX_PARTS:
            raise InvalidInput(f"a top-up is 1 to {MAX_PARTS:,} parts")
        note = required_note(note)
        async with self._db.transaction() as conn:
            summary = await self._locked(conn, uid)
            if summary.balance + amount > MAX_BALANCE:
                raise InvalidInput(f"a balance is at most {MAX_BALANCE:,} parts")
            balance = await account_store.topup(conn, summary.id, amount, note, now_ms())
            await self._record(
                conn,
                "account.topup",
                account_target(uid),
                before={"balance": balance - amount},
                after={"balance": balance, "amount": amount},
                note=note,
            )
        return balance

    async def deduct(self, uid: str, amount: int, note: str) -> int:
        """Take parts off the balance (never below zero), with a note kept in the
        ledger; the new balance."""
        self._require("account.deduct", uid)
        if not 0 < amount <= MAX_PARTS:
            raise InvalidInput(f"a deduction is 1 to {MAX_PARTS:,} parts")
        note = required_note(note)
        async with self._db.transaction() as conn:
            summary = await self._locked(conn, uid)
            balance = await account_store.deduct(conn, summary.id, amount, note, now_ms())
            if balance is None:
                raise InvalidInput(f"{uid!r} has {summary.balance} parts: cannot deduct {amount}")
            await self._record(
                conn,
                "account.deduct",
                account_target(uid),
                before={"balance": balance + amount},
                after={"balance": balance, "amount": amount},
                note=note,
            )
        return balance

    # -- account switches and limits ------------------------------------------------

    async def set_frozen(self, uid: str, frozen: bool) -> None:
        action = "account.freeze" if frozen else "account.unfreeze"
        self._require(action, uid)
        await self._set(action, uid, ("frozen",), frozen=frozen)

    async def set_api_send(self, uid: str, enabled: bool) -> None:
        self._require("account.api_send", uid)
        await self._set("account.api_send", uid, ("api_send",), api_send=enabled)

    async def set_refund(self, uid: str, enabled: bool) -> None:
        """Refund a message's parts when it ends failed (PROTOCOL.md: an account setting)."""
        self._require("account.refund", uid)
        await self._set("account.refund", uid, ("refund_on_failure",), refund_on_failure=enabled)

    async def set_limits(
        self, uid: str, *, rate: str | None = None, per_number: str | None = None
    ) -> AccountSummary:
        self._require("account.limits", uid)
        values: dict[str, object] = {}
        shown: tuple[str, ...] = ()
        if rate is not None:
            shown += ("rate_limit",)
            if rate.strip().lower() == "off":
                values["rate_limit"] = None
            elif rate.strip().isdigit() and int(rate) > 0:
                values["rate_limit"] = int(rate)
                values["rate_tokens"] = float(rate)
            else:
                raise InvalidInput("rate must be a positive number of requests a second, or off")
        if per_number is not None:
            shown += ("per_number",)
            try:
                values["per_number"] = format_windows(parse_windows(per_number.lower()))
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        if not values:
            raise InvalidInput("give --rate and/or --per-number")
        return await self._set("account.limits", uid, shown, **values)

    async def set_extension(self, uid: str, code: str) -> AccountSummary:
        """Give the account another extension code: replies to the old gateway
        number no longer reach it. Codes stay prefix-free (core/extensions.py)."""
        self._require("account.extension", uid)
        code = code.strip()
        room = _GATEWAY_DIGITS - len(self._settings.gateway_prefix) - extensions.MID_DIGITS
        longest = min(extensions.LONGEST, room)
        if not (code.isascii() and code.isdigit() and 1 <= len(code) <= longest):
            raise InvalidInput(f"an extension code is 1 to {longest} digits")
        async with self._db.transaction() as conn:
            # First, as creating an account does: concurrent code changes and
            # creations wait for each other here, and see each other's codes.
            await bump_generation(conn)
            summary = await self._locked(conn, uid)
            in_the_way = await account_store.codes_in_the_way(conn, code, summary.id)
            if not extensions.allowed(code, in_the_way):
                raise InvalidInput(
                    f"extension {code} collides with {', '.join(sorted(in_the_way))} in use: "
                    "no code may begin another"
                )
            await account_store.update_account(conn, summary.id, now_ms(), ext_code=code)
            await self._record(
                conn,
                "account.extension",
                account_target(uid),
                before={"ext_code": summary.ext_code},
                after={"ext_code": code},
            )
        return await self.show(uid)

    def gateway_number(self, summary: AccountSummary, mid: str = "") -> str:
        """The number replies to this account (and sub-extension `mid`) arrive on."""
        return extensions.gateway_number(
            self._settings.gateway_prefix, extensions.extension(summary.ext_code, mid)
        )

    # -- IP binding (PROTOCOL.md "IP binding") -----------------------------------------

    async def bind_address(self, uid: str, address: str) -> str:
        self._require("account.bind", uid)
        network = parse_network(address)
        async with self._db.transaction() as conn:
            summary = await self._locked(conn, uid)
            check_bind(summary.networks, network, uid, self._settings.max_bound_addresses)
            await account_store.add_network(conn, summary.id, network)
            await self._record_networks(conn, "account.bind", uid, summary)
        return network

    async def unbind_address(self, uid: str, address: str) -> str:
        self._require("account.unbind", uid)
        network = parse_network(address)
        async with self._db.transaction() as conn:
            summary = await self._locked(conn, uid)
            if not await account_store.remove_network(conn, summary.id, network):
                raise NotFound(f"{network} is not bound to {uid!r}")
            await self._record_networks(conn, "account.unbind", uid, summary)
        return network

    async def _record_networks(
        self, conn: AsyncConnection, action: str, uid: str, before: AccountSummary
    ) -> None:
        after = await self._locked(conn, uid)
        await self._record(
            conn,
            action,
            account_target(uid),
            before=fields(before, ("networks",)),
            after=fields(after, ("networks",)),
        )

    async def ensure_demo_account(self, known_password: str | None) -> tuple[AccountSummary, str]:
        """The demo account of `make run`: created once, with a new password if it is new."""
        if await self.exists(DEMO_UID):
            if known_password is None:
                raise InvalidInput("the demo account exists but its kept password is gone")
            return await self.show(DEMO_UID), known_password
        password = secrets.token_urlsafe(9)
        return await self.create_account(DEMO_UID, password, balance=10_000), password
