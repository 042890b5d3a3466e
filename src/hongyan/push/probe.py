"""A test push (the console's "send a test push"): one signed request to an
account's reports or replies URL, made by the pusher's own code (payload.py
forms and signature, sender.py's SSRF-checked request), with a short
deadline, so what the customer's server answers here is what it will answer
to a real push.

The test report and reply carry `mobileids=hongyan-test` and a number no
handset has, so a receiver can tell them from real ones.
"""

from __future__ import annotations

from typing import NamedTuple
from zoneinfo import ZoneInfo

from hongyan.config import Settings
from hongyan.core.schedule import format_local
from hongyan.core.states import OutboxKind
from hongyan.push import payload
from hongyan.push.sender import PushFailure, Sender
from hongyan.push.targets import Resolver, system_resolver
from hongyan.store.push import Target

TEST_MOBILEID = "hongyan-test"
TEST_MOBILE = "13800000000"
# A person waits for the answer: at most this long, whatever the pusher's own deadline.
PROBE_TIMEOUT_S = 5.0


class ProbeResult(NamedTuple):
    url: str
    status: int | None  # None: no answer (refused, unreachable, timed out)
    answer: str  # the start of the answer's body
    error: str  # why there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def test_push(
    settings: Settings,
    target: Target,
    kind: OutboxKind,
    uid: str,
    gateway: str,
    now: int,
    resolve: Resolver = system_resolver,
) -> ProbeResult:
    """Push one test report (or reply) to the target's URL of that kind and say what came back."""
    url = target.reports_url if kind == OutboxKind.REPORT else target.replies_url
    push = settings.push
    quick = push.model_copy(
        update={
            "timeout_s": min(push.timeout_s, PROBE_TIMEOUT_S),
            "connect_timeout_s": min(push.connect_timeout_s, PROBE_TIMEOUT_S),
            "dns_cache_s": 0,
        }
    )
    time_text = format_local(now, ZoneInfo(settings.timezone))
    if kind == OutboxKind.REPORT:
        form = payload.report_form(uid, TEST_MOBILEID, TEST_MOBILE, "DELIVRD", time_text)
    else:
        form = payload.reply_form(uid, time_text, TEST_MOBILE, "测试 test", gateway)
    sender = Sender(quick, ZoneInfo(settings.timezone), resolve)
    await sender.open()
    try:
        answer = await sender.exchange(url, target.method, [form], target.secret)
    except PushFailure as failure:
        return ProbeResult(url, None, "", failure.error)
    finally:
        await sender.close()
    return ProbeResult(url, answer.status, answer.head, "")
