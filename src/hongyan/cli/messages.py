"""`hongyan message ...`: messages of every account, found and followed through
their whole life (core/message_search.py, core/message_life.py)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from hongyan.cli.common import fail, with_database
from hongyan.config import Settings
from hongyan.core.message_life import Event, EventKind, MessageLife, MessageLives
from hongyan.core.message_search import MAX_PAGE, FoundMessage, MessageSearch, search_filter
from hongyan.core.records import Window
from hongyan.core.schedule import format_local
from hongyan.store.database import Database

message_app = typer.Typer(no_args_is_help=True, help="Messages of every account")


def _found(m: FoundMessage, zone: ZoneInfo) -> str:
    text = m.content if len(m.content) <= 30 else m.content[:29] + "…"
    return (
        f"{m.id}  {format_local(m.created_at, zone)}  {m.uid}  {m.mobile}  "
        f"{m.status_class}({m.status})  {m.channel or '-'}  batch {m.submission_id}  "
        f"{m.parts} part{'' if m.parts == 1 else 's'}  {text!r}"
    )


@message_app.command("search")
def message_search(
    mobile: Annotated[str, typer.Option("--mobile", help="the recipient's number")] = "",
    uid: Annotated[str, typer.Option("--uid", help="the account")] = "",
    channel: Annotated[str, typer.Option("--channel", help="the channel it went to")] = "",
    status: Annotated[
        str, typer.Option("--status", help="delivered, failed, waiting, or one status (UNDELIV)")
    ] = "",
    since: Annotated[str, typer.Option("--since", help="first day, YYYY-MM-DD local")] = "",
    until: Annotated[str, typer.Option("--until", help="last day, included")] = "",
    batch: Annotated[str, typer.Option("--batch", help="the batch (submission id)")] = "",
    message_id: Annotated[str, typer.Option("--id", help="the message id")] = "",
    before: Annotated[int | None, typer.Option("--before", help="older than this message")] = None,
    limit: Annotated[int, typer.Option("--limit", help=f"at most this many (1-{MAX_PAGE})")] = 50,
) -> None:
    """Messages of every account, newest first."""

    async def search(settings: Settings, db: Database) -> tuple[ZoneInfo, Window[FoundMessage]]:
        zone = ZoneInfo(settings.timezone)
        f = search_filter(
            zone,
            mobile=mobile,
            message_id=message_id,
            uid=uid,
            batch=batch,
            channel=channel,
            status=status,
            since=since,
            until=until,
        )
        return zone, await MessageSearch(db).search(f, before=before, size=limit)

    zone, found = with_database(search)
    if not found.rows:
        typer.echo("no messages found")
        return
    for m in found.rows:
        typer.echo(_found(m, zone))
    if found.older is not None:
        typer.echo(f"more: --before {found.older}")


def _event(e: Event, zone: ZoneInfo) -> str:
    when = format_local(e.at, zone) + f".{e.at % 1000:03d}"
    part = f"part {e.seq} " if e.seq is not None else ""
    match e.kind:
        case EventKind.ACCEPTED:
            what = f"accepted, {e.parts} part{'' if e.parts == 1 else 's'}"
        case EventKind.CHARGED:
            what = (
                f"charged {e.parts} parts (the request's entry {e.delta}, "
                f"balance after {e.balance_after})"
            )
        case EventKind.SUBMITTED:
            what = f"{part}submitted on {e.channel}, carrier id {e.upstream_id}"
        case EventKind.RECEIPT:
            what = f"{part}receipt {e.status} on {e.channel}" + _meaning(e)
        case EventKind.FINAL:
            what = f"final: {e.status}" + _meaning(e)
        case EventKind.REFUNDED:
            what = f"refunded {e.parts} parts (balance after {e.balance_after}; {e.note or '-'})"
        case EventKind.REPORT:
            what = f"report {e.status} written for the customer"
        case EventKind.FETCHED:
            what = "report handed out by /st/"
        case EventKind.PUSHED:
            what = "report pushed to the customer"
        case EventKind.PUSH_WAITING:
            when_next = format_local(e.next_at, zone) if e.next_at else "-"
            what = f"push waiting: {e.attempts} tries, next {when_next}" + _error(e)
        case EventKind.PUSH_GIVEN_UP:
            what = f"push given up after {e.attempts} tries, back to /st/" + _error(e)
    return f"  {when}  {what}"


def _meaning(e: Event) -> str:
    return f" ({e.explanation.en})" if e.explanation is not None else ""


def _error(e: Event) -> str:
    return f" (last error: {e.error})" if e.error else ""


def _header(life: MessageLife, zone: ZoneInfo) -> list[str]:
    lines = [
        f"message {life.id} of account {life.uid}, batch {life.submission_id}",
        f"  to {life.mobile}"
        + (f" (mobileid {life.mobileid})" if life.mobileid else "")
        + (f", from extension {life.source}" if life.source else ""),
        f"  text {life.content!r}",
        f"  {life.parts} part{'' if life.parts == 1 else 's'}, {life.charged} charged; "
        f"state {life.state}, status {life.status}"
        + (f": {life.explanation.en}" if life.explanation else ""),
        f"  claimed for submit {life.attempts} time{'' if life.attempts == 1 else 's'}"
        + (f", last on {life.channel}" if life.channel else "")
        + (
            f"; held by a dispatcher until {format_local(life.claimed_until, zone)}"
            if life.claimed_until
            else ""
        ),
    ]
    if life.due_at > life.created_at:
        lines.append(f"  scheduled for {format_local(life.due_at, zone)}")
    return lines


@message_app.command("show")
def message_show(message_id: int) -> None:
    """A message's whole life: accepted, charged, submitted, receipts, refunds, report."""

    async def show(settings: Settings, db: Database) -> tuple[ZoneInfo, MessageLife | None]:
        return ZoneInfo(settings.timezone), await MessageLives(db).life(message_id)

    zone, life = with_database(show)
    if life is None:
        fail(f"no message {message_id}")
    for line in _header(life, zone):
        typer.echo(line)
    typer.echo("life:")
    for e in life.events:
        typer.echo(_event(e, zone))
