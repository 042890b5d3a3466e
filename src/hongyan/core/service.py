"""The customer API's use cases: send, balance, records.

Every entry point (HTTP API, console, a future SMPP server) calls these; none
re-implements the checks, the charge or the storage.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from hongyan import metrics, throughput
from hongyan.config import Settings
from hongyan.core import extensions
from hongyan.core import ledger as ledger_rules
from hongyan.core import overview as overview_rules
from hongyan.core.cancel import Cancelled
from hongyan.core.content import parts_of
from hongyan.core.drafts import SendDrafts
from hongyan.core.gates import Gatekeeper
from hongyan.core.history import History
from hongyan.core.models import Accepted, Account, Origin, Recipient, RecordPage, Submission
from hongyan.core.numbers import normalise_key
from hongyan.core.schedule import day_bounds
from hongyan.core.send_checks import CheckedSend, SendLimits, check_send
from hongyan.core.send_checks import SendForm as SendForm  # entry points import it from here
from hongyan.errors import Rejected
from hongyan.protocol.stat import Stat
from hongyan.store import accounts as account_store
from hongyan.store import batches as batch_store
from hongyan.store import messages as message_store
from hongyan.store import replies as reply_store
from hongyan.store import reports as report_store
from hongyan.store.batches import Batch
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.store.replies import Reply, ReplyRequest
from hongyan.store.reports import Report, ReportRequest

_ID_SAFE = re.compile(r"[^0-9A-Za-z_-]")


class CustomerService:
    def __init__(
        self, settings: Settings, db: Database, gates: Gatekeeper, clock: Clock = now_ms
    ) -> None:
        self._settings = settings
        # The time of each request: its rate bucket, per-number windows, schedule.
        self._clock = clock
        self._db = db
        self.gates = gates
        self.zone = ZoneInfo(settings.timezone)
        # What the console's send page keeps between preview and confirmation.
        self.drafts = SendDrafts(db, clock, settings.console.draft_keep_s)
        # Told of every accepted submission (the dispatcher's wake-up).
        self.on_accepted: Callable[[], None] = lambda: None
        # The console's records, replies and exports (scoped by account like the rest).
        self.history = History(db)
        # Messages accepted a second, for the operators' live page (core/throughput.py).
        self._live = throughput.counts_for_url(settings.database_url)

    @property
    def db(self) -> Database:
        """The platform's store, for the console's own use cases (core/customer_settings.py)."""
        return self._db

    async def admit(self, uid: str, pwd: str, origin: Origin, *, sending: bool) -> Account:
        """The account a request with these credentials acts as, through every gate
        in PROTOCOL.md's order (120, 114, 101, 109, 117; 116 and 111 when
        `sending`), or `Rejected`. Every entry point admits its callers here."""
        address = self.gates.client_address(origin.peer, origin.forwarded_for)
        return await self.gates.admit(uid, pwd, address, sending=sending)

    async def send(
        self, account: Account, form: SendForm, *, post: bool, max_numbers: int | None = None
    ) -> Accepted:
        """Check, charge and store one /mt/ request (PROTOCOL.md "/mt/ send").

        `max_numbers` raises the protocol's limit for the console's sends (up
        to 100,000 numbers, all-or-nothing as one request); checking that
        many is CPU work, done off the event loop so other requests go on."""
        now = self._clock()
        if max_numbers is None:
            submission = self._prepare(account, form, self._limits(post=post), now)
        else:
            limits = self._limits(post=True, max_numbers=max_numbers)
            submission = await asyncio.to_thread(self._prepare, account, form, limits, now)
        accepted = await self._db.write(message_store.accept, submission)
        self.on_accepted()
        metrics.MESSAGES_ACCEPTED.inc(accepted.sent)
        self._live.add(throughput.ACCEPTED, accepted.sent)
        metrics.PARTS_CHARGED.inc(accepted.charged)
        if accepted.refused:
            metrics.MESSAGES_REFUSED.labels("acceptance").inc(accepted.refused)
        return accepted

    def check(self, form: SendForm, max_numbers: int) -> CheckedSend:
        """The checks of `send` alone, nothing stored: what a console shows
        before the customer confirms (synchronous: CPU work, run it in a thread)."""
        limits = self._limits(post=True, max_numbers=max_numbers)
        return check_send(form, limits, self.gates.keywords, self.zone, self._clock())

    def _limits(self, *, post: bool, max_numbers: int | None = None) -> SendLimits:
        s = self._settings
        return SendLimits(
            max_numbers=max_numbers or (s.max_numbers_post if post else s.max_numbers_get),
            max_content_chars=s.max_content_chars,
            max_schedule_days=s.max_schedule_days,
        )

    def _prepare(
        self, account: Account, form: SendForm, limits: SendLimits, now: int
    ) -> Submission:
        """The checked submission of a send request (`Rejected` if a check fails)."""
        checked = check_send(form, limits, self.gates.keywords, self.zone, now)
        numbers, content, mid, ids = (
            checked.numbers,
            checked.content,
            checked.mid,
            checked.mobileids,
        )
        stamp = str(now)
        recipients = tuple(
            Recipient(
                entry,
                number,
                ids[i] if i < len(ids) and ids[i] else _generated(number or entry, stamp),
            )
            for i, (entry, number) in enumerate(
                zip(numbers.entries, numbers.normalised, strict=True)
            )
        )
        return Submission(
            account=account,
            content=content,
            parts=parts_of(content),
            mid=mid,
            source=extensions.extension(account.ext_code, mid),
            recipients=recipients,
            created_at=now,
            due_at=checked.due or now,
        )

    async def waiting_batches(self, account: Account) -> list[Batch]:
        """The account's sends waiting for their scheduled time, soonest first."""
        async with self._db.read() as conn:
            return await batch_store.waiting_batches(conn, account.id, self._clock())

    async def refused_numbers(
        self, account: Account, submission_id: int, limit: int
    ) -> list[tuple[str, str]]:
        """The first `limit` numbers of an accepted send refused one by one, with why."""
        async with self._db.read() as conn:
            return await batch_store.refused(conn, account.id, submission_id, limit)

    async def cancel(self, account: Account, submission_id: int) -> Cancelled:
        """Cancel what is not yet sent of one of the account's sends, refunded
        (core/cancel.py); `NotFound` when the batch is not the account's."""
        request = batch_store.CancelRequest(account.id, submission_id, self._clock())
        return await self._db.write(batch_store.cancel, request)

    async def balance(self, account: Account, *, sent_total: bool = False) -> int:
        """Parts left, or with `sent_total` the parts sent in all (spec §7, §8)."""
        async with self._db.read() as conn:
            balance, sent = await account_store.balance_of(conn, account.id)
        return sent if sent_total else balance

    async def reports(self, account: Account) -> list[Report]:
        """The account's next status reports, each handed out once (PROTOCOL.md "/st/")."""
        request = ReportRequest(account.id, self._settings.reports_per_call, self._clock())
        return await self._db.write(report_store.hand_out, request)

    async def replies(self, account: Account, *, since: str = "") -> list[Reply]:
        """The account's next replies, each once; with `since`, all from then on (/rx/)."""
        since_ms = None
        if since.strip():
            try:
                local = datetime.strptime(since.strip(), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise Rejected(Stat.BAD_SCHEDULE_TIME, "time is YYYY-MM-DD HH:MM:SS") from None
            since_ms = int(local.replace(tzinfo=self.zone).timestamp() * 1000)
        s = self._settings
        request = ReplyRequest(account.id, s.replies_per_call, self._clock(), since_ms)
        return await self._db.write(reply_store.hand_out, request)

    async def records(
        self, account: Account, *, page: int = 1, date: str = "", key: str = ""
    ) -> RecordPage:
        """One page of the account's send records, newest first (spec §10)."""
        since = until = None
        if date.strip():
            try:
                since, until = day_bounds(date, self.zone)
            except (ValueError, OverflowError):
                raise Rejected(Stat.BAD_SCHEDULE_TIME, "date is YYYY-MM-DD") from None
        async with self._db.read() as conn:
            return await message_store.records(
                conn,
                account.id,
                page=min(max(1, page), 10**9),  # past the end either way; keeps OFFSET in range
                page_size=self._settings.records_page_size,
                since=since,
                until=until,
                mobile=normalise_key(key) if key.strip() else None,
            )

    async def overview(
        self, account: Account, chart_range: overview_rules.ChartRange
    ) -> overview_rules.Overview:
        """Balance, what was sent today and this month, how it ended (console overview)."""
        return await overview_rules.overview(
            self._db, account.id, self.zone, self._clock(), chart_range
        )

    async def ledger(
        self, account: Account, *, first: str = "", last: str = "", before: int | None = None
    ) -> ledger_rules.LedgerPage:
        """A page of the account's ledger in a period of local days (console ledger)."""
        chosen = ledger_rules.period(first, last, self.zone, self._clock())
        return await ledger_rules.ledger_page(self._db, account.id, chosen, self.zone, before)


def _generated(number: str, stamp: str) -> str:
    """An id for a number the client gave none for: the number + epoch milliseconds."""
    if not (number.isascii() and number.isdigit()):  # invalid: keep what is safe of it
        number = _ID_SAFE.sub("", number)[:27]
    return number + stamp
