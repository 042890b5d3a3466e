"""`hongyan migrate` and `hongyan serve`: the schema, and the running platform."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hongyan.api.server import uvicorn_options
from hongyan.cli.common import config_file, fail, run, safe_url, settings, use_settings
from hongyan.config import Role, Settings
from hongyan.core.audit import Actor
from hongyan.core.credentials import api_password
from hongyan.core.limits import parse_windows
from hongyan.paths import private_file
from hongyan.store.migrate import upgrade_database

if TYPE_CHECKING:
    from hongyan.app import App

log = logging.getLogger(__name__)


def migrate() -> None:
    """Bring the database schema up to date."""
    current = settings()
    try:
        asyncio.run(upgrade_database(current))
    except Exception as exc:
        fail(f"migration failed: {exc}")
    typer.echo(f"database is up to date: {safe_url(current.database_url)}")


def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes")] = None,
    demo: Annotated[bool, typer.Option(help="create and print a demo account")] = False,
    role: Annotated[
        Role | None,
        typer.Option(
            help="By default the API runs here and one delivery worker process beside it,"
            " so that both cores work. all: API and delivery in this one process; api: the"
            " customer API and console only; worker: delivery only (channels, dispatcher,"
            " push), no HTTP. Workers on one database share the channels: each runs on one"
            " worker at a time.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the platform: the customer API and everything behind it."""

    from hongyan import logs
    from hongyan.access_log import ACCESS
    from hongyan.api.door import raise_open_file_limit

    overrides = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    current = settings().model_copy(update=overrides)
    logs.configure(current.log_level)
    raise_open_file_limit()  # idle clients must not use up the fds (issue 11); workers inherit it
    try:
        asyncio.run(upgrade_database(current))
    except Exception as exc:
        fail(f"migration failed: {exc}")
    if demo:
        use_settings(current)
        _print_demo(current, *_demo_account(current))
    if role == Role.WORKER:
        if overrides.get("workers", 1) != 1:
            fail("--role worker is one process: start more worker nodes for more")
        _run_worker(current)
        return
    child = None
    if role is None:  # the API here, delivery in a child process (cli/worker_process.py)
        from hongyan.cli.worker_process import WorkerChild

        role = Role.API
        child = WorkerChild(config_file())
        child.start()
    # uvicorn stops gracefully on SIGTERM or SIGINT, then raises the signal
    # again for the handler it found: with the default one the process died
    # there, before the worker child was stopped and the log's last lines
    # written. This one ends serve as a clean stop instead.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_requested)
    if current.access_log and current.workers == 1:
        # The access log's lines formatted and written off the serving thread
        # (access_log.py); uvicorn's processes for --workers N log them as records.
        ACCESS.start()
    try:
        _run_api(current, role, overrides)
    except _StopRequested:
        pass
    finally:
        if child is not None:
            child.stop()
        ACCESS.stop()


class _StopRequested(BaseException):
    """SIGTERM or SIGINT reached serve outside uvicorn's own handlers."""


def _stop_requested(signum: int, _frame: object) -> None:
    raise _StopRequested(signum)


def _run_api(current: Settings, role: Role, overrides: Mapping[str, object]) -> None:
    """uvicorn, in this process or in `current.workers` processes, until stopped."""
    import uvicorn

    options = uvicorn_options(current.host, current.port)
    options["loop"] = "uvloop"
    if current.workers > 1 and current.admin.own_listener:
        fail(
            "the operator console's own listener ([admin] port) runs in one API process: "
            "use --workers 1, or serve it under /admin/ (no [admin] port)"
        )
    if current.workers > 1:
        from hongyan.app import WORKER_SOURCES_ENV

        if current.is_sqlite:
            logging.getLogger(__name__).warning(
                "several workers on SQLite take turns at its one write lock, and its busy "
                "handler sleeps while waiting: one worker is faster; use PostgreSQL to scale out",
                extra={"workers": current.workers},
            )

        metrics_dir = current.var_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
        # Workers read the settings from where this process did (the file, the
        # environment, var/secret), told only the file and the flags: the
        # resolved settings hold the server secret, and a process's
        # environment is readable in /proc by whoever may read its memory map.
        config = config_file()
        os.environ[WORKER_SOURCES_ENV] = json.dumps(
            {
                "config": str(config.resolve()) if config else None,
                "overrides": overrides,
                "role": role.value,
            }
        )
        uvicorn.run(
            "hongyan.app:app_from_environment", factory=True, workers=current.workers, **options
        )
    else:
        from hongyan.app import create_app, tune_gc

        app = create_app(current, role)
        tune_gc()
        if app.admin_listener is None:
            uvicorn.run(app, **options)
        else:
            _serve_with_admin_listener(current, app, options)


def _serve_with_admin_listener(current: Settings, app: App, options: dict[str, Any]) -> None:
    """The customer listener and the operator console's own ([admin] host:port),
    in this one process and event loop, sharing the platform: the customer
    listener's lifespan starts it, so the console's listener opens after it
    has started, and either stopping stops both."""
    import uvicorn

    assert app.admin_listener is not None and current.admin.port is not None
    main = uvicorn.Server(uvicorn.Config(app, **options))
    admin_options = uvicorn_options(current.admin.host, current.admin.port)
    admin_options.update(loop=options["loop"], lifespan="off")
    admin = uvicorn.Server(uvicorn.Config(app.admin_listener, **admin_options))

    async def both() -> None:
        serving = [asyncio.create_task(main.serve())]
        # uvicorn has no event for "started"; a start takes a few of these polls.
        while not main.started and not serving[0].done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if main.started:
            serving.append(asyncio.create_task(admin.serve()))
            log.info(
                "operator console listening",
                extra={"host": current.admin.host, "port": current.admin.port},
            )
        await asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED)
        main.should_exit = admin.should_exit = True
        await asyncio.gather(*serving)

    import uvloop

    uvloop.run(both())


def _run_worker(current: Settings) -> None:
    """Delivery without HTTP, until SIGTERM or SIGINT: what `serve --role api`
    processes leave undone on the same database."""
    import uvloop

    from hongyan.app import Platform, tune_gc
    from hongyan.cli.worker_process import die_with_parent

    die_with_parent()

    async def work() -> None:
        platform = Platform(current, role=Role.WORKER)
        await platform.start()
        tune_gc()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        log.info("delivery worker started", extra={"channels": sorted(platform.channels)})
        try:
            await stopping.wait()
        finally:
            await platform.stop()
            log.info("delivery worker stopped")

    uvloop.run(work())


def _demo_account(current: Settings) -> tuple[str, str, int, str]:
    """The demo account, created on first run; its password kept in var/ to print again."""
    kept = current.var_dir / "demo-password"
    known = kept.read_text().strip() if kept.exists() else None
    summary, password = run(lambda op: op.ensure_demo_account(known), Actor.system())
    if password != known:
        private_file(kept)
        kept.write_text(password + "\n")
    return summary.uid, password, summary.balance, summary.per_number


def _per_number_note(per_number: str) -> str:
    """What the demo account's per-number limit (answer 110) means, from its own
    windows (`hongyan.core.limits`), not from a default written here again."""
    windows = parse_windows(per_number)
    if not windows:
        return ""
    first = min(windows, key=lambda w: w.seconds)
    again = "again" if first.count == 1 else f"more than {first.count} times"
    return f"the same number {again} within {first.seconds} s answers 110: the per-number limit"


def _print_demo(
    current: Settings, uid: str, password: str, balance: int, per_number: str = "off"
) -> None:
    pwd = api_password(password, uid)
    base = f"http://{current.host}:{current.port}"
    typer.echo(
        "\n".join(
            [
                "",
                "  hongyan is starting. Demo account:",
                f"    uid      {uid}",
                f"    password {password}",
                f"    pwd      {pwd}   (md5 of password + uid)",
                f"    balance  {balance} parts",
                "",
                f"  Web console: {base}/console/  (sign in with the uid and password above)",
                "",
                "  Send 发送测试 to 13900008888 (GBK, as the spec's example):",
                f"    curl -s '{base}/mt/?uid={uid}&pwd={pwd}&mobile=13900008888"
                "&content=%B7%A2%CB%CD%B2%E2%CA%D4' | iconv -f GBK -t UTF-8; echo",
            ]
        )
    )
    if note := _per_number_note(per_number):
        typer.echo(
            f"  ({note} {per_number};\n   hongyan account limits {uid} --per-number off lifts it)"
        )
    typer.echo("")
