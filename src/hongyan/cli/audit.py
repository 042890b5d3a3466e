"""`hongyan audit list`: who did what to what, when, from where, before and after."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from hongyan.cli.common import run, settings
from hongyan.core.audit_log import Entry
from hongyan.core.schedule import format_local

audit_app = typer.Typer(no_args_is_help=True, help="The audit log of operator actions")


def describe(entry: Entry, zone: ZoneInfo) -> str:
    where = f" from {entry.address}" if entry.address else ""
    change = (
        f" {entry.before or '-'} -> {entry.after or '-'}" if entry.before or entry.after else ""
    )
    note = f" ({entry.note})" if entry.note else ""
    return (
        f"{format_local(entry.at, zone)} {entry.actor} via {entry.via}{where}: "
        f"{entry.action} {entry.target}{change}{note}"
    )


@audit_app.command("list")
def audit_list(
    actor: Annotated[str, typer.Option("--actor", help="one operator (or customer uid)")] = "",
    action: Annotated[
        str, typer.Option("--action", help="actions beginning so, e.g. account. or account.topup")
    ] = "",
    target: Annotated[str, typer.Option("--target", help="e.g. account:demo")] = "",
    limit: Annotated[int, typer.Option("--limit", help="at most this many, newest first")] = 50,
) -> None:
    """Operator actions, newest first: time, who, via, from where, what, before -> after, note."""
    found = run(lambda op: op.audit_entries(actor=actor, action=action, target=target, limit=limit))
    if not found:
        typer.echo("no audit entries")
    zone = ZoneInfo(settings().timezone)
    for entry in found:
        typer.echo(describe(entry, zone))
