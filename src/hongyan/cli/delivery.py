"""`hongyan mo ...`, `hongyan channel ...` and `hongyan push ...`: what comes back from
carriers, the channels' state and their pauses, and what waits to be pushed to customers."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from hongyan.cli.common import run, settings, with_database

mo_app = typer.Typer(no_args_is_help=True, help="Replies (MO) from handsets")
channel_app = typer.Typer(no_args_is_help=True, help="Upstream channels")
push_app = typer.Typer(no_args_is_help=True, help="Push of reports and replies to customers")


@mo_app.command("inject")
def mo_inject(
    mobile: Annotated[str, typer.Option("--from", help="the handset's number")],
    text: Annotated[str, typer.Option("--text", help="what it says")],
    to: Annotated[str, typer.Option("--to", help="the gateway number it sent to")] = "",
    uid: Annotated[str, typer.Option("--uid", help="or: the account it replies to")] = "",
    mid: Annotated[str, typer.Option("--mid", help="with --uid: the sub-extension")] = "",
) -> None:
    """A reply arriving through the simulated carrier, as a handset would send it."""
    gateway, owner = run(lambda op: op.inject_reply(mobile, text, to=to, uid=uid, mid=mid))
    whose = f"account {owner}" if owner else "no account (unattributed)"
    typer.echo(f"reply from {mobile} to {gateway} recorded for {whose}")


@channel_app.command("pause")
def channel_pause(name: Annotated[str, typer.Argument(help="the channel")]) -> None:
    """Stop sending on a channel (no restart): its messages fail over, or wait.
    Its binds stay up, so receipts and replies keep coming."""
    from hongyan.core.audit import Actor
    from hongyan.core.channel_control import ChannelControl

    changed = with_database(lambda s, db: ChannelControl(s, db).pause(Actor.cli(), name))
    typer.echo(
        f"channel {name} paused: the running worker stops sending on it within a second or two"
        if changed
        else f"channel {name} was already paused"
    )


@channel_app.command("resume")
def channel_resume(name: Annotated[str, typer.Argument(help="the channel")]) -> None:
    """Send on a paused channel again."""
    from hongyan.core.audit import Actor
    from hongyan.core.channel_control import ChannelControl

    changed = with_database(lambda s, db: ChannelControl(s, db).resume(Actor.cli(), name))
    typer.echo(f"channel {name} resumed" if changed else f"channel {name} was not paused")


@channel_app.command("list")
def channel_list() -> None:
    """Each channel's state, rate, and what waits, as the running server last reported."""
    import time

    from hongyan.core.channel_control import ChannelControl
    from hongyan.core.schedule import format_local

    zone = ZoneInfo(settings().timezone)
    rows, queued = run(lambda op: op.channels())
    paused = with_database(lambda s, db: ChannelControl(s, db).paused())
    typer.echo(f"{queued} message{'' if queued == 1 else 's'} queued to submit")
    if not rows:
        typer.echo("no channel has reported yet: is `hongyan serve` running?")
    reported = {channel.name for channel in rows}
    for name in sorted(paused - reported):
        typer.echo(f"{name}: PAUSED (not reported yet)")
    for channel in rows:
        age = time.time() - channel.updated_at / 1000
        stale = f" (reported {age:.0f} s ago: is the server running?)" if age > 10 else ""
        pause = " PAUSED," if channel.name in paused else ""
        held = channel.owner and channel.owner_until >= time.time() * 1000
        owner = f"on {channel.owner}" if held else "on no node (its lease ran out)"
        typer.echo(
            f"{channel.name} [{channel.kind}] {owner}:{pause} {channel.state}{stale}, "
            f"{channel.rate}/s "
            f"(limit {channel.tps or 'unlimited'}), {channel.submitted} submitted, "
            f"{channel.queued} queued for it, "
            f"{channel.awaiting_receipts} messages awaiting receipts, {channel.errors} errors"
            + (f", last error {channel.last_error}" if channel.last_error else "")
        )
        for bind in channel.binds:
            when = bind.last_error_at
            typer.echo(
                f"  bind {bind.bind}: {bind.state}, window {bind.in_flight}/{bind.window}, "
                f"{bind.rate}/s, {bind.submitted} submitted, {bind.errors} errors"
                + (f", last error {bind.last_error}" if bind.last_error else "")
                + (f" at {format_local(when, zone)}" if bind.last_error and when else "")
            )


@push_app.command("status")
def push_status(uid: Annotated[str | None, typer.Argument(help="one account")] = None) -> None:
    """What waits to be pushed, per account and kind: queued, retrying, given up, last error."""
    import time

    from hongyan.core.schedule import format_local
    from hongyan.core.states import OutboxKind

    rows = run(lambda op: op.push_status(uid))
    if not rows:
        typer.echo("no account pushes, and nothing waits to be pushed")
    zone = ZoneInfo(settings().timezone)
    now = time.time() * 1000
    for row in rows:
        age = f", oldest {(now - row.oldest_at) / 1000:.0f} s old" if row.oldest_at else ""
        last = (
            f", last error {row.last_error!r} at {format_local(row.last_attempt_at, zone)}"
            if row.last_error and row.last_attempt_at
            else ""
        )
        kind, pull = ("reports", "/st/") if row.kind == OutboxKind.REPORT else ("replies", "/rx/")
        typer.echo(
            f"{row.uid} {kind} to {row.url or '(push off)'}: {row.queued} queued, "
            f"{row.retrying} retrying, {row.given_up} given up (now on {pull}){age}{last}"
        )
