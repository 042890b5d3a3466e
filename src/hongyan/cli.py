"""The `hongyan` command: serve, migrate, and the operator's commands.

Each command prints one clear line of what it did, and exits 1 with a clear
message on bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.exc import SQLAlchemyError

from hongyan.api.server import uvicorn_options
from hongyan.cli_client import client_app
from hongyan.config import Settings, load_settings
from hongyan.core.admin import Operator
from hongyan.core.credentials import api_password
from hongyan.errors import HongyanError
from hongyan.store import system
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="hongyan SMS gateway platform")
account_app = typer.Typer(no_args_is_help=True, help="Customer accounts")
ops_app = typer.Typer(no_args_is_help=True, help="Platform switches")
mo_app = typer.Typer(no_args_is_help=True, help="Replies (MO) from handsets")
channel_app = typer.Typer(no_args_is_help=True, help="Upstream channels")
keywords_app = typer.Typer(no_args_is_help=True, help="Blocked keywords")
push_app = typer.Typer(no_args_is_help=True, help="Push of reports and replies to customers")
app.add_typer(account_app, name="account")
app.add_typer(ops_app, name="ops")
app.add_typer(keywords_app, name="keywords")
app.add_typer(mo_app, name="mo")
app.add_typer(client_app, name="client")
app.add_typer(channel_app, name="channel")
app.add_typer(push_app, name="push")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (default ./hongyan.toml)")
]
_state: dict[str, Settings] = {}


@app.callback()
def _main(config: ConfigOption = None) -> None:
    try:
        _state["settings"] = load_settings(config)
    except HongyanError as exc:
        _fail(str(exc))


def _settings() -> Settings:
    return _state["settings"]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _run(action: Callable[[Operator], Awaitable[T]]) -> T:
    """Run an operator action against a migrated database; errors become exit 1."""

    async def go() -> T:
        settings = _settings()
        await upgrade(settings.database_url)
        db = Database(settings)
        await db.start()
        try:
            return await action(Operator(settings, db))
        finally:
            await db.close()

    try:
        return asyncio.run(go())
    except HongyanError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable") from exc
    except (OSError, SQLAlchemyError) as exc:
        url = _safe_url(_settings().database_url)
        _fail(f"database {url} is unavailable: {type(exc).__name__}: {exc}")
        raise AssertionError("unreachable") from exc


# -- server -----------------------------------------------------------------


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    try:
        asyncio.run(upgrade(settings.database_url))
    except Exception as exc:
        _fail(f"migration failed: {exc}")
    typer.echo(f"database is up to date: {_safe_url(settings.database_url)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes")] = None,
    demo: Annotated[bool, typer.Option(help="create and print a demo account")] = False,
) -> None:
    """Run the platform: the customer API and everything behind it."""
    import uvicorn

    from hongyan import logs
    from hongyan.api.door import raise_open_file_limit

    base = _settings()
    settings = base.model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "workers": workers}.items()
            if v is not None
        }
    )
    logs.configure(settings.log_level)
    raise_open_file_limit()  # idle clients must not use up the fds (issue 11); workers inherit it
    try:
        asyncio.run(upgrade(settings.database_url))
    except Exception as exc:
        _fail(f"migration failed: {exc}")
    if demo:
        _state["settings"] = settings
        _print_demo(settings, *_demo_account(settings))
    options = uvicorn_options(settings.host, settings.port)
    options["loop"] = "uvloop"
    if settings.workers > 1:
        from hongyan.app import SETTINGS_ENV

        if settings.is_sqlite:
            logging.getLogger(__name__).warning(
                "several workers on SQLite take turns at its one write lock, and its busy "
                "handler sleeps while waiting: one worker is faster; use PostgreSQL to scale out",
                extra={"workers": settings.workers},
            )

        metrics_dir = settings.var_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
        os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
        uvicorn.run(
            "hongyan.app:app_from_environment", factory=True, workers=settings.workers, **options
        )
    else:
        from hongyan.app import create_app, tune_gc

        app = create_app(settings)
        tune_gc()
        uvicorn.run(app, **options)


def _demo_account(settings: Settings) -> tuple[str, str, int]:
    """The demo account, created on first run; its password kept in var/ to print again."""
    kept = settings.var_dir / "demo-password"
    known = kept.read_text().strip() if kept.exists() else None
    summary, password = _run(lambda op: op.ensure_demo_account(known))
    if password != known:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.touch(mode=0o600)
        kept.write_text(password + "\n")
    return summary.uid, password, summary.balance


def _print_demo(settings: Settings, uid: str, password: str, balance: int) -> None:
    pwd = api_password(password, uid)
    base = f"http://{settings.host}:{settings.port}"
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
                "  Send 发送测试 to 13900008888 (GBK, as the spec's example):",
                f"    curl '{base}/mt/?uid={uid}&pwd={pwd}&mobile=13900008888"
                "&content=%B7%A2%CB%CD%B2%E2%CA%D4' | iconv -f GBK -t UTF-8; echo",
                "  (the same number again within 30 s answers 110: the default per-number limit;",
                f"   hongyan account limits {uid} --per-number off lifts it)",
                "",
            ]
        )
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- accounts ---------------------------------------------------------------


def _describe(summary: object) -> str:
    from hongyan.core.models import AccountSummary

    assert isinstance(summary, AccountSummary)
    limits = f"rate {summary.rate_limit or 'off'}/s, per number {summary.per_number}"
    return (
        f"account {summary.uid}: balance {summary.balance} parts, sent {summary.sent_total}, "
        f"{'FROZEN' if summary.frozen else 'active'}, "
        f"API sending {'on' if summary.api_send else 'off'}, {limits}, "
        f"extension {summary.ext_code}, "
        f"refund on failure {'on' if summary.refund_on_failure else 'off'}, "
        f"bound addresses {', '.join(summary.networks) or 'none'}"
    )


@account_app.command("create")
def account_create(
    uid: str,
    password: Annotated[str, typer.Option("--password", help="login password")],
    balance: Annotated[int, typer.Option(help="initial balance in parts")] = 0,
) -> None:
    """Create an account."""
    summary = _run(lambda op: op.create_account(uid, password, balance))
    typer.echo(f"created {_describe(summary)}")


@account_app.command("show")
def account_show(uid: str) -> None:
    """Show an account, its extension code and the gateway number replies arrive on."""

    async def show(op: Operator) -> str:
        summary = await op.show(uid)
        push = _describe_push(await op.push_target(uid))
        return (
            f"{_describe(summary)}; replies arrive on {op.gateway_number(summary)}[mid]; "
            f"push {push}"
        )

    typer.echo(_run(show))


@account_app.command("push")
def account_push(
    uid: str,
    replies: Annotated[
        str | None, typer.Option("--replies", help="URL replies are pushed to ('' stops)")
    ] = None,
    reports: Annotated[
        str | None, typer.Option("--reports", help="URL status reports are pushed to ('' stops)")
    ] = None,
    method: Annotated[str | None, typer.Option("--method", help="GET (default) or POST")] = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="HMAC-SHA256 key to sign pushes with ('' stops signing)"),
    ] = None,
    batch: Annotated[
        bool | None,
        typer.Option("--batch/--no-batch", help="several reports a POST, one a line"),
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="stop pushing; queued items go to pull")
    ] = False,
) -> None:
    """Push an account's replies and status reports to its server instead of /rx/ and /st/."""
    if off:
        if any(v is not None for v in (replies, reports, method, secret, batch)):
            _fail("--off takes no other option")
        _run(lambda op: op.push_off(uid))
        typer.echo(f"push for {uid} is off: replies and reports wait for /rx/ and /st/")
        return
    if all(v is None for v in (replies, reports, method, secret, batch)):
        target = _run(lambda op: op.push_target(uid))
    else:
        target = _run(
            lambda op: op.set_push(
                uid, replies=replies, reports=reports, method=method, secret=secret, batch=batch
            )
        )
    typer.echo(f"push for {uid}: {_describe_push(target)}")


def _describe_push(target: object) -> str:
    from hongyan.store.push import Target

    if target is None:
        return "off (replies and reports wait for /rx/ and /st/)"
    assert isinstance(target, Target)
    return (
        f"replies to {target.replies_url or '/rx/ (not pushed)'}, "
        f"reports to {target.reports_url or '/st/ (not pushed)'}, by {target.method}"
        + (", batched" if target.batch_reports else "")
        + (", signed" if target.secret else ", unsigned")
    )


@account_app.command("refund")
def account_refund(uid: str, state: str) -> None:
    """Refund the parts of messages that end failed (on), or keep them charged (off)."""
    if state not in ("on", "off"):
        _fail("state must be on or off")
    _run(lambda op: op.set_refund(uid, state == "on"))
    typer.echo(f"refund on failure for {uid} is {state}")


@account_app.command("topup", context_settings={"ignore_unknown_options": True})
def account_topup(uid: str, amount: int) -> None:
    """Add parts to an account's balance (recorded in its ledger)."""
    balance = _run(lambda op: op.topup(uid, amount))
    typer.echo(f"topped up {uid} by {amount} parts: balance {balance}")


@account_app.command("freeze")
def account_freeze(uid: str) -> None:
    """Freeze an account: every request answers 109."""
    _run(lambda op: op.set_frozen(uid, True))
    typer.echo(f"froze {uid}")


@account_app.command("unfreeze")
def account_unfreeze(uid: str) -> None:
    """Unfreeze an account."""
    _run(lambda op: op.set_frozen(uid, False))
    typer.echo(f"unfroze {uid}")


@account_app.command("bind-ip")
def account_bind_ip(uid: str, address: str) -> None:
    """Bind an IP address or CIDR range: requests from elsewhere answer 117."""
    network = _run(lambda op: op.bind_address(uid, address))
    typer.echo(f"bound {network} to {uid}")


@account_app.command("unbind-ip")
def account_unbind_ip(uid: str, address: str) -> None:
    """Remove a bound address."""
    network = _run(lambda op: op.unbind_address(uid, address))
    typer.echo(f"unbound {network} from {uid}")


@account_app.command("api-send")
def account_api_send(uid: str, state: str) -> None:
    """Allow (on) or forbid (off, answers 116) sending through the API."""
    if state not in ("on", "off"):
        _fail("state must be on or off")
    _run(lambda op: op.set_api_send(uid, state == "on"))
    typer.echo(f"API sending for {uid} is {state}")


@account_app.command("limits")
def account_limits(
    uid: str,
    rate: Annotated[str | None, typer.Option(help="requests a second, or off")] = None,
    per_number: Annotated[
        str | None, typer.Option("--per-number", help='e.g. "1/30s,5/h,10/d", or off')
    ] = None,
) -> None:
    """Set an account's request rate (107) and per-recipient limits (110)."""
    summary = _run(lambda op: op.set_limits(uid, rate=rate, per_number=per_number))
    typer.echo(
        f"limits of {uid}: rate {summary.rate_limit or 'off'}/s, per number {summary.per_number}"
    )


# -- platform switches and keywords ---------------------------------------------


@ops_app.command("pause")
def ops_pause() -> None:
    """Pause sending: /mt/ answers 111, queued messages wait."""
    _run(lambda op: op.set_switch(system.PAUSED, True))
    typer.echo("sending paused: /mt/ answers 111")


@ops_app.command("resume")
def ops_resume() -> None:
    """Resume sending."""
    _run(lambda op: op.set_switch(system.PAUSED, False))
    typer.echo("sending resumed")


@ops_app.command("maintenance")
def ops_maintenance(state: str) -> None:
    """Maintenance on: every endpoint answers 120."""
    if state not in ("on", "off"):
        _fail("state must be on or off")
    _run(lambda op: op.set_switch(system.MAINTENANCE, state == "on"))
    typer.echo(f"maintenance {state}" + (": every endpoint answers 120" if state == "on" else ""))


@keywords_app.command("add")
def keywords_add(word: str) -> None:
    """Block a keyword: messages containing it answer 104."""
    added = _run(lambda op: op.add_keyword(word))
    typer.echo(f"blocked keyword {word!r}" if added else f"keyword {word!r} was already blocked")


@keywords_app.command("remove")
def keywords_remove(word: str) -> None:
    """Unblock a keyword."""
    _run(lambda op: op.remove_keyword(word))
    typer.echo(f"unblocked keyword {word!r}")


@keywords_app.command("list")
def keywords_list() -> None:
    """List blocked keywords."""
    words = _run(lambda op: op.keywords())
    typer.echo("\n".join(words) if words else "no blocked keywords")


# -- replies and channels ---------------------------------------------------------


@mo_app.command("inject")
def mo_inject(
    mobile: Annotated[str, typer.Option("--from", help="the handset's number")],
    text: Annotated[str, typer.Option("--text", help="what it says")],
    to: Annotated[str, typer.Option("--to", help="the gateway number it sent to")] = "",
    uid: Annotated[str, typer.Option("--uid", help="or: the account it replies to")] = "",
    mid: Annotated[str, typer.Option("--mid", help="with --uid: the sub-extension")] = "",
) -> None:
    """A reply arriving through the simulated carrier, as a handset would send it."""
    gateway, owner = _run(lambda op: op.inject_reply(mobile, text, to=to, uid=uid, mid=mid))
    whose = f"account {owner}" if owner else "no account (unattributed)"
    typer.echo(f"reply from {mobile} to {gateway} recorded for {whose}")


@channel_app.command("list")
def channel_list() -> None:
    """Each channel's state, rate, and what waits, as the running server last reported."""
    import time

    from hongyan.core.schedule import format_local

    zone = ZoneInfo(_settings().timezone)
    rows, queued = _run(lambda op: op.channels())
    typer.echo(f"{queued} messages queued to submit")
    if not rows:
        typer.echo("no channel has reported yet: is `hongyan serve` running?")
    for row in rows:
        age = time.time() - int(str(row["updated_at"])) / 1000
        stale = f" (reported {age:.0f} s ago: is the server running?)" if age > 10 else ""
        tps = row["tps"] or "unlimited"
        typer.echo(
            f"{row['name']} [{row['kind']}]: {row['state']}{stale}, {row['rate']}/s "
            f"(limit {tps}), {row['submitted']} submitted, "
            f"{row['awaiting_receipts']} messages awaiting receipts"
            + (f", last error {row['last_error']}" if row["last_error"] else "")
        )
        for bind in json.loads(str(row.get("binds") or "[]")):
            when = bind.get("last_error_at")
            typer.echo(
                f"  bind {bind['bind']}: {bind['state']}, window {bind['in_flight']}/"
                f"{bind['window']}, {bind.get('rate', 0)}/s, {bind['submitted']} submitted"
                + (f", last error {bind['last_error']}" if bind["last_error"] else "")
                + (f" at {format_local(int(when), zone)}" if bind["last_error"] and when else "")
            )


@app.command("smsc")
def smsc(
    port: Annotated[int, typer.Option(help="SMPP port (127.0.0.1)")] = 2775,
    system_id: Annotated[str, typer.Option(help="system_id an ESME binds with")] = "hongyan",
    # The simulator's demo credentials, the same as an smpp channel's example.
    password: Annotated[str, typer.Option(help="its password")] = "secret",  # noqa: S107
    account: Annotated[
        list[str] | None,
        typer.Option(help="another SYSTEM_ID:PASSWORD that may bind (repeatable)"),
    ] = None,
    receipt_delay: Annotated[
        float, typer.Option(help="seconds before a receipt (up to twice this)")
    ] = 0.2,
    failure_ratio: Annotated[float, typer.Option(help="share of receipts UNDELIV")] = 0.0,
    tps: Annotated[float, typer.Option(help="submits a second before THROTTLED; 0: none")] = 0,
    id_base: Annotated[str, typer.Option(help="submit_sm_resp ids: hex or dec")] = "hex",
    receipt_id_base: Annotated[str, typer.Option(help="receipt text ids: hex or dec")] = "hex",
    control_port: Annotated[
        int, typer.Option(help="HTTP control port on 127.0.0.1 (0: none)")
    ] = 2776,
    quiet: Annotated[bool, typer.Option(help="no counters every 5 s")] = False,
) -> None:
    """An SMPP 3.4 SMSC simulator to point an `smpp` channel at (demos, tests, staging)."""
    from pydantic import ValidationError

    from hongyan.channels.smpp.smsc import Smsc, SmscSettings

    accounts = {system_id: password}
    for extra in account or []:
        name, sep, secret = extra.partition(":")
        if not sep or not name:
            _fail(f"--account {extra.split(':')[0]!r}: give SYSTEM_ID:PASSWORD")
        accounts[name] = secret
    try:
        settings = SmscSettings(
            port=port,
            accounts=accounts,
            receipt_delay_min_s=receipt_delay,
            receipt_delay_max_s=receipt_delay * 2,
            failure_ratio=failure_ratio,
            tps=tps or None,
            id_base=id_base,
            receipt_id_base=receipt_id_base,
            control_port=control_port or None,
        )
    except ValidationError as exc:
        _fail(f"invalid option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")

    async def run() -> None:
        server = Smsc(settings)
        try:
            await server.start()
        except OSError as exc:
            _fail(f"cannot listen: {exc}")
        control = f", control http://127.0.0.1:{server.control_port}/" if control_port else ""
        ids = ", ".join(accounts)
        typer.echo(f"SMSC listening on 127.0.0.1:{server.port} (system_id {ids}){control}")
        try:
            while True:
                await asyncio.sleep(5)
                if not quiet:
                    typer.echo(" ".join(f"{k}={v}" for k, v in server.stats().items()))
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@push_app.command("status")
def push_status(uid: Annotated[str | None, typer.Argument(help="one account")] = None) -> None:
    """What waits to be pushed, per account and kind: queued, retrying, given up, last error."""
    import time

    from hongyan.core.schedule import format_local

    rows = _run(lambda op: op.push_status(uid))
    if not rows:
        typer.echo("no account pushes, and nothing waits to be pushed")
    zone = ZoneInfo(_settings().timezone)
    now = time.time() * 1000
    for row in rows:
        age = f", oldest {(now - row.oldest_at) / 1000:.0f} s old" if row.oldest_at else ""
        last = (
            f", last error {row.last_error!r} at {format_local(row.last_attempt_at, zone)}"
            if row.last_error and row.last_attempt_at
            else ""
        )
        kind, pull = ("reports", "/st/") if row.kind == "report" else ("replies", "/rx/")
        typer.echo(
            f"{row.uid} {kind} to {row.url or '(push off)'}: {row.queued} queued, "
            f"{row.retrying} retrying, {row.given_up} given up (now on {pull}){age}{last}"
        )


def main() -> None:
    app()
