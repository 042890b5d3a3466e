"""`hongyan ops ...` and `hongyan keywords ...`: platform switches and blocked keywords."""

from __future__ import annotations

import typer

from hongyan.cli.common import run, switch
from hongyan.store import system

ops_app = typer.Typer(no_args_is_help=True, help="Platform switches")
keywords_app = typer.Typer(no_args_is_help=True, help="Blocked keywords")


@ops_app.command("pause")
def ops_pause() -> None:
    """Pause sending: /mt/ answers 111, queued messages wait."""
    run(lambda op: op.set_switch(system.PAUSED, True))
    typer.echo("sending paused: /mt/ answers 111")


@ops_app.command("resume")
def ops_resume() -> None:
    """Resume sending."""
    run(lambda op: op.set_switch(system.PAUSED, False))
    typer.echo("sending resumed")


@ops_app.command("maintenance")
def ops_maintenance(state: str) -> None:
    """Maintenance on: every endpoint answers 120."""
    on = switch(state)
    run(lambda op: op.set_switch(system.MAINTENANCE, on))
    typer.echo(f"maintenance {state}" + (": every endpoint answers 120" if on else ""))


@keywords_app.command("add")
def keywords_add(word: str) -> None:
    """Block a keyword: messages containing it answer 104."""
    added = run(lambda op: op.add_keyword(word))
    typer.echo(f"blocked keyword {word!r}" if added else f"keyword {word!r} was already blocked")


@keywords_app.command("remove")
def keywords_remove(word: str) -> None:
    """Unblock a keyword."""
    run(lambda op: op.remove_keyword(word))
    typer.echo(f"unblocked keyword {word!r}")


@keywords_app.command("list")
def keywords_list() -> None:
    """List blocked keywords."""
    words = run(lambda op: op.keywords())
    typer.echo("\n".join(words) if words else "no blocked keywords")
