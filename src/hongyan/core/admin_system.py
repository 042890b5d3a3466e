"""The operator's use cases of the platform as a whole: the switches (pause
sending, 111; maintenance, 120), blocked keywords (104), the channels' state,
and a handset's reply through the simulated carrier.

Part of `Operator` (core/admin.py).
"""

from __future__ import annotations

from hongyan.core import audit_log, extensions
from hongyan.core.admin_base import OperatorBase, account_target
from hongyan.core.audit_log import Entry
from hongyan.core.models import InboundReply, ReportedChannel
from hongyan.core.numbers import normalise
from hongyan.errors import InvalidInput, NotFound
from hongyan.store import channels as channel_store
from hongyan.store import replies as reply_store
from hongyan.store import system
from hongyan.store.engine import now_ms
from hongyan.store.replies import owner_uid as reply_owner

KEYWORD_MAX = 100


class SystemSettings(OperatorBase):
    # -- switches ----------------------------------------------------------------------

    async def set_switch(self, name: str, on: bool) -> None:
        self._require("system.switch")
        if name not in system.SWITCHES:
            raise InvalidInput(f"no switch {name!r}: {', '.join(system.SWITCHES)}")
        async with self._db.transaction() as conn:
            was = bool((await system.read_state(conn)).get(name, 0))
            await system.set_switch(conn, name, on)
            await self._record(
                conn, "system.switch", f"system:{name}", before={name: was}, after={name: on}
            )

    async def switches(self) -> dict[str, bool]:
        async with self._db.read() as conn:
            state = await system.read_state(conn)
        return {name: bool(state.get(name, 0)) for name in system.SWITCHES}

    # -- keywords ----------------------------------------------------------------------

    async def add_keyword(self, word: str) -> bool:
        """Block a keyword; False when it was blocked already (the entry says so)."""
        self._require("keyword.add")
        word = word.strip()
        if not word:
            raise InvalidInput("a keyword must not be empty")
        if len(word) > KEYWORD_MAX:
            raise InvalidInput(f"a keyword is at most {KEYWORD_MAX} characters")
        async with self._db.transaction() as conn:
            added = await system.add_keyword(conn, word, now_ms())
            await self._record(
                conn,
                "keyword.add",
                f"keyword:{word}",
                before={"blocked": not added},
                after={"blocked": True},
            )
        return added

    async def remove_keyword(self, word: str) -> None:
        self._require("keyword.remove")
        word = word.strip()
        async with self._db.transaction() as conn:
            if not await system.remove_keyword(conn, word):
                raise NotFound(f"no keyword {word!r}")
            await self._record(
                conn,
                "keyword.remove",
                f"keyword:{word}",
                before={"blocked": True},
                after={"blocked": False},
            )

    async def keywords(self) -> list[str]:
        async with self._db.read() as conn:
            return await system.list_keywords(conn)

    # -- the audit log (reading is every role's) ------------------------------------------

    async def audit_entries(
        self,
        *,
        actor: str = "",
        action: str = "",
        target: str = "",
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Entry]:
        """Operator actions newest first (core/audit_log.py `entries`)."""
        return await audit_log.entries(
            self._db, actor=actor, action=action, target=target, before_id=before_id, limit=limit
        )

    # -- channels and the simulated carrier ---------------------------------------------

    async def channels(self) -> tuple[list[ReportedChannel], int]:
        return await self._db.read_sync(channel_store.list_status)

    async def inject_reply(
        self, mobile: str, text: str, *, to: str = "", uid: str = "", mid: str = ""
    ) -> tuple[str, str | None]:
        """A handset's reply through the simulated carrier: (gateway number, owner uid or None).

        The entry names the account it reached (or the gateway number, when
        none), the handset and the number; not the text, the handset's words."""
        self._require("mo.inject")
        if not normalise(mobile):
            raise InvalidInput(f"not a valid mobile number: {mobile!r}")
        if not text:
            raise InvalidInput("the reply text must not be empty")
        if bool(to) == bool(uid):
            raise InvalidInput("give either --to GATEWAY or --uid UID")
        if not extensions.is_mid(mid):
            raise InvalidInput("mid is up to 6 digits")
        prefix = self._settings.gateway_prefix
        if not to:
            summary = await self.show(uid)
            to = extensions.gateway_number(prefix, extensions.extension(summary.ext_code, mid))
        gateway = to
        if not gateway.isascii() or not gateway.isdigit():
            raise InvalidInput(f"not a gateway number: {gateway!r}")
        incoming = reply_store.IncomingReply(
            self._settings.simulator.name, InboundReply(mobile, gateway, text, now_ms()), prefix
        )
        async with self._db.transaction() as conn:
            await conn.run_sync(lambda sync: reply_store.record(sync, [incoming]))
            owner = await conn.run_sync(lambda sync: reply_owner(sync, gateway, prefix))
            await self._record(
                conn,
                "mo.inject",
                account_target(owner) if owner else f"gateway:{gateway}",
                after={"mobile": mobile, "gateway": gateway},
            )
        return gateway, owner
