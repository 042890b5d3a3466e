"""The operators' channel page: each channel and bind live, as the worker
last reported it (dispatch/status.py), with its pause, and the routes and
failover the settings configure.

Read only: any role may look. Figures come from the running worker's
report, every few seconds; a report older than `STALE_MS` says the worker
is not running (or not reporting).
"""

from __future__ import annotations

from dataclasses import dataclass

from hongyan.config import Settings
from hongyan.core.channel_control import channel_names
from hongyan.core.models import BindStatus, ReportedChannel
from hongyan.store import channel_controls
from hongyan.store import channels as channel_store
from hongyan.store.database import Database
from hongyan.store.engine import now_ms

STALE_MS = 10_000


@dataclass(frozen=True, slots=True)
class RouteView:
    """One configured route: which messages (empty: any), the channel, its
    failover in order. The fallback is the last, matching every message."""

    channel: str
    carriers: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    failover: tuple[str, ...] = ()
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class ChannelView:
    name: str
    kind: str
    state: str  # a ChannelState, or "unreported"
    paused: bool
    tps: float | None
    rate: float  # parts a second now
    submitted: int
    queued: int  # retrying there, or held while paused
    awaiting_receipts: int
    errors: int
    last_error: str
    receipts_delivered: int  # of about the last hour
    receipts_final: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    binds: tuple[BindStatus, ...]
    updated_at: int | None  # when the worker reported it
    stale: bool
    routes: tuple[
        int, ...
    ]  # indexes into ChannelsPage.routes where it is the channel or a failover

    @property
    def delivery_rate(self) -> float | None:
        """Delivered receipts of final ones, 0-1; None before any receipt."""
        return self.receipts_delivered / self.receipts_final if self.receipts_final else None


@dataclass(frozen=True, slots=True)
class ChannelsPage:
    channels: tuple[ChannelView, ...]
    routes: tuple[RouteView, ...]
    unrouted: int  # queued messages not routed yet (due or scheduled)


def configured_routes(settings: Settings) -> tuple[RouteView, ...]:
    fallback = settings.fallback_channel or settings.simulator.name
    routes = [
        RouteView(r.channel, tuple(r.carriers), tuple(r.accounts), tuple(r.failover))
        for r in settings.routes
    ]
    routes.append(RouteView(fallback, failover=tuple(settings.fallback_failover), fallback=True))
    return tuple(routes)


def _view(
    name: str,
    reported: ReportedChannel | None,
    paused: bool,
    routes: tuple[int, ...],
    now: int,
) -> ChannelView:
    if reported is None:
        return ChannelView(
            name, "", "unreported", paused, None, 0.0, 0, 0, 0, 0, "", 0, 0, None, None, (),
            None, True, routes,
        )  # fmt: skip
    r = reported
    return ChannelView(
        name=name,
        kind=r.kind,
        state=str(r.state),
        paused=paused,
        tps=r.tps,
        rate=r.rate,
        submitted=r.submitted,
        queued=r.queued,
        awaiting_receipts=r.awaiting_receipts,
        errors=r.errors,
        last_error=r.last_error,
        receipts_delivered=r.receipts_delivered,
        receipts_final=r.receipts_final,
        latency_p50_ms=r.latency_p50_ms,
        latency_p95_ms=r.latency_p95_ms,
        binds=r.binds,
        updated_at=r.updated_at,
        stale=now - r.updated_at > STALE_MS,
        routes=routes,
    )


async def channels_page(settings: Settings, db: Database, now: int | None = None) -> ChannelsPage:
    """Every configured channel, in the settings' order, as last reported."""
    reported, queued = await db.read_sync(channel_store.list_status)
    by_name = {r.name: r for r in reported}
    async with db.read() as conn:
        paused = await channel_controls.read_paused(conn)
    routes = configured_routes(settings)
    now = now_ms() if now is None else now
    views = tuple(
        _view(
            name,
            by_name.get(name),
            name in paused,
            tuple(i for i, r in enumerate(routes) if name == r.channel or name in r.failover),
            now,
        )
        for name in channel_names(settings)
    )
    routed = sum(v.queued for v in views)
    return ChannelsPage(views, routes, max(0, queued - routed))
