"""The live figures the channels and system pages poll, and what they cost.

Every open page polls: the system page /admin/system/live.json each second,
the channels page /admin/channels.json every two. Each answer is kept for
`TTL_S` in this process (`Cached`), so N open pages cost one read of the
throughput table (core/throughput.py `recent`: one range read of its
primary key) and one of the channels' status a second, whatever N is;
concurrent polls of an expired answer wait for the one read in flight.

The figures are formatted here, once, for the template and the JSON alike,
so the page's script only puts text where the page says (data-f="...").
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from babel.numbers import format_decimal, format_percent

from hongyan.admin.web import LOCALE, AdminConsole
from hongyan.console.chart import nice_axis
from hongyan.core.channels_view import ChannelsPage, ChannelView, channels_page
from hongyan.core.models import BindStatus
from hongyan.core.states import BindState, ChannelState
from hongyan.core.throughput import Second, recent

T = TypeVar("T")

TTL_S = 1.0
WINDOW_S = 60
SERIES = ("accepted", "submitted", "delivered", "failed")
# Every this many seconds an x label, counted back from the newest second.
LABEL_EVERY_S = 15
DASH = "—"
# A state's badge colour; any other (down) is "bad".
CHANNEL_KINDS: dict[str, str] = {ChannelState.UP: "ok", ChannelState.THROTTLED: "warn"}
BIND_KINDS: dict[str, str] = {BindState.BOUND: "ok", BindState.CONNECTING: "warn"}


class Cached(Generic[T]):
    """`load()`'s answer, read again at most once per `ttl_s`."""

    def __init__(
        self,
        load: Callable[[], Awaitable[T]],
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._value: T | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()
        self.loads = 0  # reads made (the bench and tests look)

    def _fresh(self) -> bool:
        return self._value is not None and self._clock() - self._at < self._ttl_s

    async def get(self) -> T:
        if self._fresh():
            assert self._value is not None
            return self._value
        async with self._lock:  # one read in flight; the others wait for it
            if not self._fresh():
                self._value = await self._load()
                self._at = self._clock()
                self.loads += 1
        assert self._value is not None
        return self._value


class Live:
    """The cached live answers of one running console."""

    def __init__(self, admin: AdminConsole) -> None:
        self.throughput: Cached[list[Second]] = Cached(
            # The newest whole second whose counts every process has flushed
            # (each flushes once a second): the one before the last.
            lambda: recent(admin.db, WINDOW_S, now_s=int(time.time()) - 1)
        )
        self.channels: Cached[ChannelsPage] = Cached(
            lambda: channels_page(admin.settings, admin.db)
        )


_live: weakref.WeakKeyDictionary[AdminConsole, Live] = weakref.WeakKeyDictionary()


def live_of(admin: AdminConsole) -> Live:
    found = _live.get(admin)
    if found is None:
        found = _live[admin] = Live(admin)
    return found


# -- formatting ---------------------------------------------------------------------------


def num(n: float | int | None) -> str:
    return format_decimal(n or 0, locale=LOCALE)


def rate(r: float) -> str:
    return format_decimal(round(r, 1), format="#,##0.0", locale=LOCALE)


def percent(r: float | None) -> str:
    return DASH if r is None else format_percent(r, "#,##0.0%", locale=LOCALE)


def millis(ms: int | None) -> str:
    return DASH if ms is None else f"{num(ms)} ms"


# -- throughput ----------------------------------------------------------------------------


def throughput_json(seconds: list[Second], label: Callable[[int], str]) -> dict[str, Any]:
    """The chart's series and axis, the newest second's figures and the window's sums;
    `label(epoch_s)` writes an x label."""
    series = {name: [getattr(s, name) for s in seconds] for name in SERIES}
    axis = nice_axis(max((v for vs in series.values() for v in vs), default=0))
    newest = seconds[-1] if seconds else Second(int(time.time()))
    count = len(seconds)
    labels = [[i, label(seconds[i].at)] for i in range(count - 1, -1, -LABEL_EVERY_S)][::-1]
    return {
        "at": newest.at,
        "seconds": count,
        "series": series,
        "axis": {"top": axis.top, "ticks": axis.ticks, "labels": [num(t) for t in axis.ticks]},
        "x_labels": labels,
        "now": {name: getattr(newest, name) for name in SERIES},
        "total": {name: sum(series[name]) for name in SERIES},
        "text": {
            **{f"now-{name}": num(getattr(newest, name)) for name in SERIES},
            **{f"total-{name}": num(sum(series[name])) for name in SERIES},
            "as-of": label(newest.at),
        },
    }


# -- channels ------------------------------------------------------------------------------


def badge(text: str, kind: str) -> dict[str, str]:
    return {"text": text, "kind": kind}


def channel_state(v: ChannelView) -> list[dict[str, str]]:
    """A channel's badges: its state as reported (or that it is not), and its pause."""
    if v.state == "unreported":
        shown = [badge("not reported", "neutral")]
    elif v.stale:
        shown = [badge("not reporting", "neutral")]
    else:
        shown = [badge(v.state, CHANNEL_KINDS.get(v.state, "bad"))]
    return [*shown, badge("paused", "warn")] if v.paused else shown


def bind_state(b: BindStatus) -> list[dict[str, str]]:
    return [badge(str(b.state), BIND_KINDS.get(str(b.state), "bad"))]


def channel_cells(v: ChannelView) -> dict[str, Any]:
    in_flight = sum(b.in_flight for b in v.binds)
    window = sum(b.window for b in v.binds)
    return {
        "state": channel_state(v),
        "window": f"{num(in_flight)} / {num(window)}" if v.binds else DASH,
        "rate": rate(v.rate),
        "tps": num(v.tps) if v.tps else "no limit",
        "submitted": num(v.submitted),
        "queued": num(v.queued),
        "awaiting": num(v.awaiting_receipts),
        "errors": num(v.errors),
        "last-error": v.last_error,
        "delivery": percent(v.delivery_rate),
        "p50": millis(v.latency_p50_ms),
        "p95": millis(v.latency_p95_ms),
    }


def bind_cells(b: BindStatus) -> dict[str, Any]:
    return {
        "state": bind_state(b),
        "window": f"{num(b.in_flight)} / {num(b.window)}",
        "rate": rate(b.rate),
        "submitted": num(b.submitted),
        "errors": num(b.errors),
        "last-error": b.last_error,
    }


def bind_key(channel: str, b: BindStatus) -> str:
    return f"{channel}/{b.bind}"


def channels_json(found: ChannelsPage, label: Callable[[int | None], str]) -> dict[str, Any]:
    """Each row's cells by its key: a channel by name, a bind as "channel/bind"."""
    rows: dict[str, dict[str, Any]] = {}
    for v in found.channels:
        rows[v.name] = {**channel_cells(v), "updated": label(v.updated_at) or DASH}
        for b in v.binds:
            rows[bind_key(v.name, b)] = bind_cells(b)
    return {
        "rows": rows,
        "paused": [v.name for v in found.channels if v.paused],
        "unrouted": found.unrouted,
        "text": {"unrouted": num(found.unrouted)},
    }
