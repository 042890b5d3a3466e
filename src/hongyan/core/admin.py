"""The operator's use cases: accounts, limits, switches, keywords.

The CLI (and later the console) calls these; each validates its input and
raises `InvalidInput` / `NotFound` with a message fit to show the operator.
"""

from __future__ import annotations

import re
import secrets

from hongyan.config import Settings
from hongyan.core import extensions
from hongyan.core.access import AccessOperator
from hongyan.core.bindings import check_bind, parse_network
from hongyan.core.credentials import api_password, console_hash
from hongyan.core.delivery import DeliverySink
from hongyan.core.limits import format_windows, parse_windows
from hongyan.core.models import UID_MAX_LENGTH, AccountSummary, InboundReply, ReportedChannel
from hongyan.core.numbers import normalise
from hongyan.errors import InvalidInput, NotFound
from hongyan.keyfile import load_keyring
from hongyan.push.targets import approved_addresses
from hongyan.store import accounts as account_store
from hongyan.store import channels as channel_store
from hongyan.store import push as push_store
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.engine import now_ms
from hongyan.store.replies import owner_uid as reply_owner

DEMO_UID = "demo"
_UID = re.compile(rf"[A-Za-z0-9_.@-]{{1,{UID_MAX_LENGTH}}}")


class Operator:
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        # Passwords, server keys, lockouts, answer dialect.
        self.access = AccessOperator(settings, db)

    async def _account_id(self, uid: str) -> int:
        async with self._db.read() as conn:
            summary = await account_store.load_summary(conn, uid)
        if summary is None:
            raise NotFound(f"no account {uid!r}")
        return summary.id

    async def show(self, uid: str) -> AccountSummary:
        async with self._db.read() as conn:
            summary = await account_store.load_summary(conn, uid)
        if summary is None:
            raise NotFound(f"no account {uid!r}")
        return summary

    async def exists(self, uid: str) -> bool:
        async with self._db.read() as conn:
            return await account_store.load_summary(conn, uid) is not None

    async def create_account(self, uid: str, password: str, balance: int = 0) -> AccountSummary:
        if not _UID.fullmatch(uid):
            raise InvalidInput(f"uid must be 1-{UID_MAX_LENGTH} of letters, digits and _.@-")
        if not password:
            raise InvalidInput("password must not be empty")
        if balance < 0:
            raise InvalidInput("balance must not be negative")
        if await self.exists(uid):
            raise InvalidInput(f"account {uid!r} already exists")
        s = self._settings
        api = load_keyring(s).digest(api_password(password, uid))
        async with self._db.transaction() as conn:
            await account_store.create_account(
                conn,
                uid=uid,
                api_key_digest=api.digest,
                key_version=api.version,
                console_hash=console_hash(password),
                balance=balance,
                per_number=format_windows(parse_windows(s.default_per_number)),
                rate_limit=s.default_rate,
                now=now_ms(),
            )
        return await self.show(uid)

    async def topup(self, uid: str, amount: int, note: str = "") -> int:
        if amount <= 0:
            raise InvalidInput("a top-up must be a positive number of parts")
        account_id = await self._account_id(uid)
        async with self._db.transaction() as conn:
            return await account_store.topup(conn, account_id, amount, note or "top-up", now_ms())

    async def set_frozen(self, uid: str, frozen: bool) -> None:
        await self._update(uid, frozen=frozen)

    async def set_api_send(self, uid: str, enabled: bool) -> None:
        await self._update(uid, api_send=enabled)

    async def set_refund(self, uid: str, enabled: bool) -> None:
        """Refund a message's parts when it ends failed (PROTOCOL.md: an account setting)."""
        await self._update(uid, refund_on_failure=enabled)

    def gateway_number(self, summary: AccountSummary, mid: str = "") -> str:
        """The number replies to this account (and sub-extension `mid`) arrive on."""
        return extensions.gateway_number(
            self._settings.gateway_prefix, extensions.extension(summary.ext_code, mid)
        )

    async def inject_reply(
        self, mobile: str, text: str, *, to: str = "", uid: str = "", mid: str = ""
    ) -> tuple[str, str | None]:
        """A handset's reply through the simulated carrier: (gateway number, owner uid or None)."""
        if not normalise(mobile):
            raise InvalidInput(f"not a valid mobile number: {mobile!r}")
        if not text:
            raise InvalidInput("the reply text must not be empty")
        if bool(to) == bool(uid):
            raise InvalidInput("give either --to GATEWAY or --uid UID")
        if not extensions.is_mid(mid):
            raise InvalidInput("mid is up to 6 digits")
        gateway = to or self.gateway_number(await self.show(uid), mid)
        if not gateway.isascii() or not gateway.isdigit():
            raise InvalidInput(f"not a gateway number: {gateway!r}")
        sink = DeliverySink(self._db, self._settings.gateway_prefix)
        await sink.reply(
            self._settings.simulator.name, InboundReply(mobile, gateway, text, now_ms())
        )
        async with self._db.read() as conn:
            owner = await conn.run_sync(
                lambda sync: reply_owner(sync, gateway, self._settings.gateway_prefix)
            )
        return gateway, owner

    async def channels(self) -> tuple[list[ReportedChannel], int]:
        return await self._db.read_sync(channel_store.list_status)

    async def set_limits(
        self, uid: str, *, rate: str | None = None, per_number: str | None = None
    ) -> AccountSummary:
        values: dict[str, object] = {}
        if rate is not None:
            if rate.strip().lower() == "off":
                values["rate_limit"] = None
            elif rate.strip().isdigit() and int(rate) > 0:
                values["rate_limit"] = int(rate)
                values["rate_tokens"] = float(rate)
            else:
                raise InvalidInput("rate must be a positive number of requests a second, or off")
        if per_number is not None:
            try:
                values["per_number"] = format_windows(parse_windows(per_number.lower()))
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        if not values:
            raise InvalidInput("give --rate and/or --per-number")
        await self._update(uid, **values)
        return await self.show(uid)

    async def bind_address(self, uid: str, address: str) -> str:
        network = parse_network(address)
        summary = await self.show(uid)
        check_bind(summary.networks, network, uid, self._settings.max_bound_addresses)
        async with self._db.transaction() as conn:
            await account_store.add_network(conn, summary.id, network)
        return network

    async def unbind_address(self, uid: str, address: str) -> str:
        network = parse_network(address)
        account_id = await self._account_id(uid)
        async with self._db.transaction() as conn:
            removed = await account_store.remove_network(conn, account_id, network)
        if not removed:
            raise NotFound(f"{network} is not bound to {uid!r}")
        return network

    async def push_target(self, uid: str) -> push_store.Target | None:
        account_id = await self._account_id(uid)
        return await self._db.read_sync(lambda conn: push_store.target(conn, account_id))

    async def set_push(
        self,
        uid: str,
        *,
        replies: str | None = None,
        reports: str | None = None,
        method: str | None = None,
        secret: str | None = None,
        batch: bool | None = None,
    ) -> push_store.Target | None:
        """Change where an account's replies and reports are pushed; None leaves a field as is.

        An empty URL turns that kind's push off: what was queued for it goes
        back to `/rx/` or `/st/`. A URL must pass the SSRF check now (and is
        checked again before every push).
        """
        account_id = await self._account_id(uid)
        current = await self._db.read_sync(lambda conn: push_store.target(conn, account_id))
        old = current or push_store.Target("", "", "GET", "", False)
        new = push_store.Target(
            replies_url=old.replies_url if replies is None else replies.strip(),
            reports_url=old.reports_url if reports is None else reports.strip(),
            method=old.method if method is None else method.strip().upper(),
            secret=old.secret if secret is None else secret,
            batch_reports=old.batch_reports if batch is None else batch,
        )
        if new.method not in ("GET", "POST"):
            raise InvalidInput("method must be GET or POST")
        if new.batch_reports and new.method != "POST":
            raise InvalidInput("batched reports are sent by POST: give --method POST")
        if len(new.secret) > 128 or (new.secret and len(new.secret) < 16):
            raise InvalidInput("a push secret is 16 to 128 characters")
        allowed = self._settings.push.networks()
        for url in (new.replies_url, new.reports_url):
            if len(url) > 500:
                raise InvalidInput("a callback URL is at most 500 characters")
            if url:
                await approved_addresses(url, allowed)
        async with self._db.transaction() as conn:
            await conn.run_sync(lambda sync: push_store.set_target(sync, account_id, new, now_ms()))
        return new if new.replies_url or new.reports_url else None

    async def push_off(self, uid: str) -> None:
        """Stop pushing for an account; what was queued goes back to `/st/` and `/rx/`."""
        account_id = await self._account_id(uid)
        async with self._db.transaction() as conn:
            await conn.run_sync(
                lambda sync: push_store.set_target(sync, account_id, None, now_ms())
            )

    async def push_status(self, uid: str | None = None) -> list[push_store.StreamStatus]:
        account_id = None if uid is None else await self._account_id(uid)
        return await self._db.read_sync(lambda conn: push_store.status(conn, account_id))

    async def set_switch(self, name: str, on: bool) -> None:
        async with self._db.transaction() as conn:
            await system.set_switch(conn, name, on)

    async def switches(self) -> dict[str, bool]:
        async with self._db.read() as conn:
            state = await system.read_state(conn)
        return {name: bool(state.get(name, 0)) for name in system.SWITCHES}

    async def add_keyword(self, word: str) -> bool:
        word = word.strip()
        if not word:
            raise InvalidInput("a keyword must not be empty")
        async with self._db.transaction() as conn:
            return await system.add_keyword(conn, word, now_ms())

    async def remove_keyword(self, word: str) -> None:
        async with self._db.transaction() as conn:
            if not await system.remove_keyword(conn, word.strip()):
                raise NotFound(f"no keyword {word!r}")

    async def keywords(self) -> list[str]:
        async with self._db.read() as conn:
            return await system.list_keywords(conn)

    async def ensure_demo_account(self, known_password: str | None) -> tuple[AccountSummary, str]:
        """The demo account of `make run`: created once, with a new password if it is new."""
        if await self.exists(DEMO_UID):
            if known_password is None:
                raise InvalidInput("the demo account exists but its kept password is gone")
            return await self.show(DEMO_UID), known_password
        password = secrets.token_urlsafe(9)
        return await self.create_account(DEMO_UID, password, balance=10_000), password

    async def _update(self, uid: str, **values: object) -> None:
        account_id = await self._account_id(uid)
        async with self._db.transaction() as conn:
            await account_store.update_account(conn, account_id, now_ms(), **values)
