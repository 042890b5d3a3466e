"""The operator's use cases of push: where an account's replies and reports
go, what waits to be pushed, and a test push.

Part of `Operator` (core/admin.py). The audit entry of a push change shows
the URLs, the method, batching and whether pushes are signed, never the
signing secret: only that it changed.
"""

from __future__ import annotations

from typing import Any

from hongyan.core import extensions
from hongyan.core.admin_base import OperatorBase, account_target
from hongyan.core.states import OutboxKind
from hongyan.errors import InvalidInput
from hongyan.push.probe import ProbeResult, test_push
from hongyan.push.targets import Resolver, approved_addresses, system_resolver
from hongyan.store import push as push_store
from hongyan.store.engine import now_ms

_OFF = push_store.Target("", "", "GET", "", False)


def _view(target: push_store.Target | None, names: tuple[str, ...]) -> dict[str, Any]:
    """A push target as the audit log shows it: no secret, only whether there is one."""
    target = target or _OFF
    shown = {
        "replies_url": target.replies_url,
        "reports_url": target.reports_url,
        "method": target.method,
        "batch_reports": target.batch_reports,
        "signed": bool(target.secret),
    }
    return {name: shown[name] for name in names}


def _check(new: push_store.Target) -> None:
    """`InvalidInput` unless `new` is a push target that can be set (its URLs'
    addresses aside: `approved_addresses`)."""
    if new.method not in ("GET", "POST"):
        raise InvalidInput("method must be GET or POST")
    if new.batch_reports and new.method != "POST":
        raise InvalidInput("batched reports are sent by POST: give --method POST")
    if len(new.secret) > 128 or (new.secret and len(new.secret) < 16):
        raise InvalidInput("a push secret is 16 to 128 characters")
    for url in (new.replies_url, new.reports_url):
        if len(url) > 500:
            raise InvalidInput("a callback URL is at most 500 characters")


class PushSettings(OperatorBase):
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
        self._require("account.push", uid)
        account_id = await self._account_id(uid)

        def changed(old: push_store.Target | None) -> push_store.Target:
            """`old` with the fields given changed, refused when it is not valid."""
            old = old or _OFF
            new = push_store.Target(
                replies_url=old.replies_url if replies is None else replies.strip(),
                reports_url=old.reports_url if reports is None else reports.strip(),
                method=old.method if method is None else method.strip().upper(),
                secret=old.secret if secret is None else secret,
                batch_reports=old.batch_reports if batch is None else batch,
            )
            _check(new)
            return new

        # Checked first against what is set now (the URLs' addresses are looked
        # up, which no transaction waits for) ...
        current = await self._db.read_sync(lambda conn: push_store.target(conn, account_id))
        planned = changed(current)
        allowed = self._settings.push.networks()
        for url in (planned.replies_url, planned.reports_url):
            if url:
                await approved_addresses(url, allowed)
        given = {
            "replies_url": replies,
            "reports_url": reports,
            "method": method,
            "signed": secret,
            "batch_reports": batch,
        }
        names = tuple(name for name, value in given.items() if value is not None)
        async with self._db.transaction() as conn:
            await self._locked(conn, uid)
            # ... then made from the row as it is under the lock: a change the
            # customer made meanwhile is kept, and the entry's "before" is it.
            was = await conn.run_sync(lambda sync: push_store.target(sync, account_id))
            new = changed(was)
            await conn.run_sync(lambda sync: push_store.set_target(sync, account_id, new, now_ms()))
            after = _view(new, names)
            if secret is not None and secret != (was or _OFF).secret:
                after["secret changed"] = True
            await self._record(
                conn, "account.push", account_target(uid), before=_view(was, names), after=after
            )
        return new if new.replies_url or new.reports_url else None

    async def push_off(self, uid: str) -> None:
        """Stop pushing for an account; what was queued goes back to `/st/` and `/rx/`."""
        self._require("account.push", uid)
        account_id = await self._account_id(uid)
        names = ("replies_url", "reports_url")
        async with self._db.transaction() as conn:
            await self._locked(conn, uid)
            was = await conn.run_sync(lambda sync: push_store.target(sync, account_id))
            await conn.run_sync(
                lambda sync: push_store.set_target(sync, account_id, None, now_ms())
            )
            await self._record(
                conn,
                "account.push",
                account_target(uid),
                before=_view(was, names),
                after=_view(None, names),
            )

    async def push_status(self, uid: str | None = None) -> list[push_store.StreamStatus]:
        account_id = None if uid is None else await self._account_id(uid)
        return await self._db.read_sync(lambda conn: push_store.status(conn, account_id))

    async def test_push(
        self, uid: str, kind: OutboxKind, resolve: Resolver = system_resolver
    ) -> ProbeResult:
        """One signed test report (or reply) to the account's URL of that kind, and
        its answer; the audit entry says where it went and what came back."""
        self._require("push.test", uid)
        summary = await self.show(uid)
        target = await self.push_target(uid)
        url = (
            ""
            if target is None
            else (target.reports_url if kind == OutboxKind.REPORT else target.replies_url)
        )
        if target is None or not url:
            raise InvalidInput(f"{uid!r} has no {kind} URL")
        gateway = extensions.gateway_number(
            self._settings.gateway_prefix, extensions.extension(summary.ext_code)
        )
        result = await test_push(self._settings, target, kind, uid, gateway, now_ms(), resolve)
        async with self._db.transaction() as conn:
            await self._record(
                conn,
                "push.test",
                account_target(uid),
                after={"kind": str(kind), "url": url, "status": result.status},
                note=result.error[:200],
            )
        return result
