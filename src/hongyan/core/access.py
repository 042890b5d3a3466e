"""The operator's use cases of access: passwords, server keys, lockouts, answer dialect.

Reached as `Operator.access` (core/admin.py); the CLI and the consoles call
these, for an `Actor`. Each checks the actor's role, validates its input and
raises `InvalidInput` / `NotFound` with a message fit to show the operator,
and makes its change with its one audit entry in one transaction; none
returns, logs or audits a key, a password or a digest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hongyan import keyfile
from hongyan.config import Settings
from hongyan.core.admin_base import OperatorBase, account_target
from hongyan.core.audit import Actor
from hongyan.core.credentials import (
    api_password,
    bare_md5,
    console_hash,
    console_password_matches,
)
from hongyan.core.lockout import operator_lockout_key
from hongyan.core.models import AccountSummary
from hongyan.core.schedule import format_local
from hongyan.errors import InvalidInput
from hongyan.protocol.dialect import Dialect
from hongyan.store import accounts as account_store
from hongyan.store import sessions as session_store
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

# The audit log's target of a server key change: the keys are the platform's.
KEYS_TARGET = "system:server_keys"


@dataclass(frozen=True, slots=True)
class Lock:
    """An active lockout: the client (an address, or an IPv6 /64) and until when (local)."""

    client: str
    until: str


@dataclass(frozen=True, slots=True)
class KeyStatus:
    current: int
    versions: tuple[int, ...]
    # Stored digests on each version, and accounts with one on an older version.
    digests: dict[int, int]
    on_older: int
    kept_in_file: bool

    @property
    def unknown(self) -> dict[int, int]:
        """Digests on versions the ring does not hold: their accounts answer 101."""
        return {v: n for v, n in self.digests.items() if v not in self.versions and n}

    @property
    def retirable(self) -> tuple[int, ...]:
        """Old versions no stored digest uses any more."""
        return tuple(v for v in self.versions if v != self.current and not self.digests.get(v, 0))


class AccessOperator(OperatorBase):
    def __init__(self, settings: Settings, db: Database, *, actor: Actor) -> None:
        super().__init__(settings, db, actor=actor)
        self._zone = ZoneInfo(settings.timezone)

    # -- passwords -----------------------------------------------------------------

    async def set_password(self, uid: str, password: str) -> AccountSummary:
        """A new login password: the console hash, and so the API `pwd` too
        (md5(password + uid)); the bare-md5 digest, if allowed, follows it."""
        self._require("account.password", uid)
        if not password:
            raise InvalidInput("password must not be empty")
        summary = await self.show(uid)
        ring = keyfile.load_keyring(self._settings)
        api = ring.digest(api_password(password, uid))
        values: dict[str, object] = {
            # Argon2 costs tens of milliseconds of CPU: not on the event loop.
            "console_hash": await asyncio.to_thread(console_hash, password),
            "api_key_digest": api.digest,
            "key_version": api.version,
        }
        if summary.bare_md5:
            bare = ring.digest(bare_md5(password))
            values |= {"bare_md5_digest": bare.digest, "bare_md5_key_version": bare.version}
        async with self._db.transaction() as conn:
            locked = await self._locked(conn, uid)
            await account_store.update_account(conn, locked.id, now_ms(), **values)
            # Whoever was signed in with the old password is signed out.
            await session_store.end_all_of(conn, locked.id)
            # The fact, never the password nor a digest of it.
            await self._record(
                conn, "account.password", account_target(uid), after={"password changed": True}
            )
        return await self.show(uid)

    # -- answer dialect (PROTOCOL.md "Legacy dialect") -----------------------------------

    async def set_dialect(self, uid: str, dialect: str) -> AccountSummary:
        """`legacy` or `standard`; back to standard also stops md5(password) as `pwd`."""
        self._require("account.dialect", uid)
        try:
            chosen = Dialect(dialect.strip().lower())
        except ValueError:
            raise InvalidInput("dialect must be legacy or standard") from None
        values: dict[str, object] = {"dialect": chosen.value}
        if chosen is Dialect.STANDARD:
            values |= {"bare_md5_digest": None, "bare_md5_key_version": None}
        return await self._set("account.dialect", uid, ("dialect", "bare_md5"), **values)

    async def set_bare_md5(self, uid: str, on: bool, password: str | None = None) -> None:
        """Let a legacy account send `pwd` = md5(login_password), without the uid.

        Only hashes are stored, so turning it on needs the login password,
        checked against the account's Argon2 hash."""
        self._require("account.bare_md5", uid)
        summary = await self.show(uid)
        if not on:
            await self._set(
                "account.bare_md5",
                uid,
                ("bare_md5",),
                bare_md5_digest=None,
                bare_md5_key_version=None,
            )
            return
        if summary.dialect is not Dialect.LEGACY:
            raise InvalidInput(
                f"{uid!r} is not a legacy account: `hongyan account dialect {uid} legacy` first"
            )
        async with self._db.read() as conn:
            stored_hash = await account_store.account_console_hash(conn, summary.id)
        if not password or not await asyncio.to_thread(
            console_password_matches, stored_hash, password
        ):
            raise InvalidInput(f"that is not the login password of {uid!r}")
        bare = keyfile.load_keyring(self._settings).digest(bare_md5(password))
        await self._set(
            "account.bare_md5",
            uid,
            ("bare_md5",),
            bare_md5_digest=bare.digest,
            bare_md5_key_version=bare.version,
        )

    # -- lockouts (PROTOCOL.md gate 3) ---------------------------------------------------

    async def locks(self, uid: str) -> list[Lock]:
        """The uid's active locks (a uid no account has can be locked too)."""
        async with self._db.read() as conn:
            rows = await system.locks_of(conn, uid, now_ms())
        return [Lock(client, format_local(until, self._zone)) for client, until in rows]

    async def unlock(self, uid: str, address: str | None = None) -> list[Lock]:
        """Lift the uid's locks from one client (its address, or the IPv6 /64), or all.

        Its failure counts go too. A running server stops applying a lifted
        lock at its next poll. The entry shows the locked clients before and after."""
        self._require("account.unlock", uid)
        client = None
        if address is not None:
            client = operator_lockout_key(address)
            if client is None:
                raise InvalidInput(f"not an IP address or IPv6 /64: {address!r}")
        async with self._db.transaction() as conn:
            now = now_ms()
            before = await system.locks_of(conn, uid, now)
            lifted = await system.lift_locks(conn, uid, client, now)
            after = await system.locks_of(conn, uid, now)
            await self._record(
                conn,
                "account.unlock",
                account_target(uid),
                before={"locked": [c for c, _ in before]},
                after={"locked": [c for c, _ in after]},
                note=f"client {client}" if client else "",
            )
        return [Lock(c, format_local(until, self._zone)) for c, until in lifted]

    # -- server keys (issue 11 item 7) -----------------------------------------------------

    async def key_status(self) -> KeyStatus:
        ring = keyfile.load_keyring(self._settings)
        async with self._db.read() as conn:
            digests = await account_store.digests_by_version(conn)
            on_older = await account_store.accounts_on_older_keys(conn, ring.current)
        return KeyStatus(
            current=ring.current,
            versions=ring.versions,
            digests=digests,
            on_older=on_older,
            kept_in_file=keyfile.kept_in_file(self._settings),
        )

    def _keys(self) -> dict[str, object]:
        """The key versions as the audit log shows them (never a key)."""
        ring = keyfile.load_keyring(self._settings)
        return {"current": ring.current, "versions": list(ring.versions)}

    async def rotate_key(self) -> KeyStatus:
        """A new current key; the old ones stay, so every account still authenticates,
        and each moves to the new key at its next successful request."""
        self._require("account.rekey")
        async with self._db.transaction() as conn:
            before = self._keys()
            ring = keyfile.rotate(self._settings)
            # Running servers read the key file again at their next poll.
            await system.announce_key_version(conn, ring.current)
            await self._record(
                conn, "account.rekey", KEYS_TARGET, before=before, after=self._keys()
            )
        return await self.key_status()

    async def retire_key(self, version: int) -> KeyStatus:
        """Drop an old key once no stored digest is on it (else those accounts would
        answer 101 until `account password`)."""
        self._require("account.rekey")
        status = await self.key_status()
        if version not in status.versions:
            raise InvalidInput(f"there is no server key version {version}")
        if version == status.current:
            raise InvalidInput(f"version {version} is the current key: rotate first")
        in_use = status.digests.get(version, 0)
        if in_use:
            raise InvalidInput(
                f"{in_use} stored digest(s) are still on key version {version}: each moves to "
                "the current key at its account's next successful request, or at "
                "`hongyan account password UID`"
            )
        async with self._db.transaction() as conn:
            before = self._keys()
            keyfile.retire(self._settings, version)
            await self._record(
                conn, "account.rekey", KEYS_TARGET, before=before, after=self._keys()
            )
        return await self.key_status()
