"""Composition root: settings → store → gates → service → ASGI app (with lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from hongyan import metrics
from hongyan.admin.app import AdminListener
from hongyan.admin.app import mounted as admin_routes
from hongyan.api.customer import ENDPOINTS, CustomerApi, forwarded_for
from hongyan.api.door import Door
from hongyan.channels.base import Channel
from hongyan.channels.cmpp.channel import CmppChannel
from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.channels.simulator import SimulatedCarrier
from hongyan.channels.smpp.channel import SmppChannel
from hongyan.channels.smpp.settings import SmppSettings
from hongyan.config import Role, Settings, load_settings
from hongyan.console.app import routes as console_routes
from hongyan.console.web import Console
from hongyan.core.addresses import networks
from hongyan.core.delivery import DeliverySink, Housekeeper
from hongyan.core.gates import Gatekeeper
from hongyan.core.metrics_access import may_read_metrics
from hongyan.core.service import CustomerService
from hongyan.core.sessions import ConsoleSessions
from hongyan.core.throughput import ThroughputFlusher
from hongyan.dispatch.dispatcher import Dispatcher
from hongyan.dispatch.ownership import ChannelOwnership
from hongyan.dispatch.routing import Router
from hongyan.protocol import render
from hongyan.protocol.stat import Stat
from hongyan.push.pusher import Pusher
from hongyan.store.database import Database
from hongyan.store.engine import Clock, now_ms
from hongyan.store.wakeups import Listener, Notifier
from hongyan.tasks import cancel
from hongyan.throughput import counts_for_url

log = logging.getLogger(__name__)

# What a worker process of `serve --workers N` is told: the settings file and
# the command-line flags, never the resolved settings (they hold the secret).
WORKER_SOURCES_ENV = "HONGYAN_SERVE_SOURCES"


class Platform:
    """The running parts of one process; `clock` is the time the sending limits,
    lockouts and the dispatcher's retries are decided by (a test's to hold still).
    `role` says which parts run here: an API process leaves the channels,
    the dispatcher, housekeeping and push to a worker process on the same
    database, so that accepting and delivering use a core each."""

    def __init__(self, settings: Settings, clock: Clock = now_ms, role: Role = Role.ALL) -> None:
        self.settings = settings
        self.role = role
        self.clock = clock
        self.db = Database(settings, background=role == Role.WORKER)
        self.gates = Gatekeeper(settings, self.db, clock)
        self.service = CustomerService(settings, self.db, self.gates, clock)
        self.simulator = SimulatedCarrier(settings.simulator)
        self.channels: dict[str, Channel] = {self.simulator.name: self.simulator}
        scopes: dict[tuple[str, int, str], str] = {}  # upstream account: first channel's name
        for extra in settings.channels:
            if isinstance(extra, SmppSettings):
                smpp = SmppChannel(extra, settings.gateway_prefix)
                account = (extra.host, extra.port, extra.system_id)
                smpp.receipt_scope = scopes.setdefault(account, extra.name)
                self.channels[extra.name] = smpp
            elif isinstance(extra, CmppSettings):
                cmpp = CmppChannel(extra, settings.gateway_prefix)
                account = (extra.host, extra.port, "cmpp:" + extra.sp_id)
                cmpp.receipt_scope = scopes.setdefault(account, extra.name)
                self.channels[extra.name] = cmpp
            else:
                self.channels[extra.name] = SimulatedCarrier(extra)
        self.sink = DeliverySink(self.db, settings.gateway_prefix, settings.reply_parts_wait_s)
        self.housekeeper = Housekeeper(settings, self.db, clock)
        router = Router(
            settings.fallback_channel or self.simulator.name,
            settings.routes,
            settings.fallback_failover,
        )
        # Which channels run here: those this worker node holds the lease of.
        self.ownership: ChannelOwnership | None = None
        if role != Role.API:
            self.ownership = ChannelOwnership(settings, self.db, self.channels, self.sink, clock)
        self.dispatcher = Dispatcher(
            settings, self.db, self.gates, self.channels, router, clock, self.ownership
        )
        self.service.on_accepted = self.dispatcher.notify
        # PostgreSQL: accepting nodes wake the worker nodes (store/wakeups.py).
        self.notifier: Notifier | None = None
        self.listener: Listener | None = None
        if not settings.is_sqlite:
            if role != Role.WORKER:
                self.notifier = Notifier(self.db)
                self.service.on_accepted = self._accepted
            if role != Role.API and settings.run_dispatcher:
                url = settings.pg_listen_url or settings.database_url
                self.listener = Listener(url, self.dispatcher.notify)
        self.pusher = Pusher(settings, self.db)
        self.sessions = ConsoleSessions(settings, self.db, self.gates, clock)
        # Messages a second of this process, to the store once a second (live page).
        self.throughput = ThroughputFlusher(self.db, counts_for_url(settings.database_url))
        self._refresher: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.db.start()
        await self.gates.refresh()
        self._refresher = asyncio.create_task(self.gates.keep_fresh(), name="gates-refresh")
        await self.throughput.start()
        if self.ownership is None:
            return
        await self.ownership.start()
        if self.settings.run_dispatcher:
            await self.dispatcher.start()
            await self.housekeeper.start()
            if self.listener is not None:
                await self.listener.start()
        if self.settings.push.run:
            await self.pusher.start()

    def _accepted(self) -> None:
        self.dispatcher.notify()  # this process's own, if it delivers
        assert self.notifier is not None
        self.notifier.notify()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.dispatcher.stop()
        await self.housekeeper.stop()
        await self.pusher.stop()
        if self.ownership is not None:
            await self.ownership.stop()
        await cancel(self._refresher)
        await self.throughput.stop()
        await self.db.close()


# Headers by which a proxy names the client it forwards.
_FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class App:
    """Protocol paths go straight to the customer API; the rest to Starlette."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        settings = platform.settings
        self.customer = CustomerApi(settings, platform.service)
        # What the HTTP server's connections share (api/server.py finds it here).
        self.console_on = settings.console.enabled
        self.door = Door(
            settings.http,
            settings.trusted_proxies,
            settings.access_log,
            console_body_bytes=settings.console.max_upload_bytes if self.console_on else 0,
        )
        self._metrics_allow = networks(settings.http.metrics_allow)
        routes: list[BaseRoute] = [
            Route("/healthz", self._healthz),
            Route("/metrics", self._metrics),
        ]
        if self.console_on:
            console = Console(settings, platform.service, platform.gates, platform.sessions)
            routes += console_routes(console)
        # The operator console: /admin/ here, or a listener of its own (never both).
        self.admin_on = settings.admin.enabled and not settings.admin.own_listener
        if self.admin_on:
            routes += admin_routes(platform)
        self.admin_listener = AdminListener(platform) if settings.admin.own_listener else None
        self.web = Starlette(routes=routes, lifespan=self._lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ENDPOINTS:
            await self.customer(scope, receive, send)
        elif scope["type"] == "http" and not self._is_web_path(scope):
            await _not_found(send)
        else:
            await self.web(scope, receive, send)

    def _is_web_path(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in ("/healthz", "/metrics"):
            return True
        if self.admin_on and (path == "/admin" or path.startswith("/admin/")):
            return True
        if not self.console_on:
            return False
        if path == "/":
            # A person's browser at the bare address is shown the console; an API
            # client that lost its path (no text/html in Accept, or a query or a
            # body) keeps the protocol's 103, as for any unknown path.
            accept: bytes = dict(scope["headers"]).get(b"accept", b"")
            plain_get: bool = scope["method"] in ("GET", "HEAD") and not scope["query_string"]
            return plain_get and b"text/html" in accept
        return path == "/console" or path.startswith("/console/")

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.platform.start()
        try:
            yield
        finally:
            await self.platform.stop()

    async def _healthz(self, _request: Request) -> Response:
        try:
            async with self.platform.db.read() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception:
            log.exception("health check failed")
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    async def _metrics(self, request: Request) -> Response:
        peer = request.client.host if request.client else ""
        headers = request.headers
        client = self.platform.gates.client_address(peer, forwarded_for(request.scope["headers"]))
        forwarded = any(name in headers for name in _FORWARDING_HEADERS)
        if not may_read_metrics(peer, client, forwarded, self._metrics_allow):
            return _answer_not_found()  # as for any unknown path: nothing to learn here
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)


def _answer_not_found() -> Response:
    payload = render.encode(render.message_answer(Stat.OPERATION_FAILED))
    return Response(payload, status_code=404, media_type="text/plain; charset=GBK")


async def _not_found(send: Send) -> None:
    payload = render.encode(render.message_answer(Stat.OPERATION_FAILED))
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"text/plain; charset=GBK"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def tune_gc() -> None:
    """Fewer, later collections for a server process.

    Each request makes many short-lived objects; with the default threshold
    (700) the collector runs hundreds of times a second and its older-
    generation passes stall every in-flight request by tens of milliseconds
    (p99 at 64 concurrent sends: 40-47 ms before, 12-13 ms after). Objects
    alive after start-up are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def create_app(settings: Settings, role: Role = Role.ALL) -> App:
    return App(Platform(settings, role=role))


def app_from_environment() -> App:
    """Factory for uvicorn worker processes: settings read again from the
    parent's sources (its file, its flags, the environment and var/)."""
    sources: dict[str, Any] = json.loads(os.environ[WORKER_SOURCES_ENV])
    config = Path(sources["config"]) if sources["config"] else None
    role = Role(sources.get("role", Role.ALL))
    app = create_app(load_settings(config, **sources["overrides"]), role)
    tune_gc()
    return app
