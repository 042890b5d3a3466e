"""What every command group shares: the settings, running an operator action,
failing with a clear message, and reading a password without exposing it.

Each command prints one clear line of what it did, and exits 1 with a clear
message on bad input.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from hongyan.config import Settings, load_settings
from hongyan.core.admin import Operator
from hongyan.core.audit import Actor
from hongyan.errors import HongyanError
from hongyan.keyfile import configured_ring
from hongyan.store.database import Database
from hongyan.store.migrate import upgrade_database

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (default ./hongyan.toml)")
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="the password (visible in `ps` and shell history: prefer the prompt, "
        "or --password-stdin in scripts)",
    ),
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")
]

_state: dict[str, Settings] = {}
_sources: dict[str, Path | None] = {}


def load(config: Path | None) -> None:
    try:
        _state["settings"] = load_settings(config)
        configured_ring(_state["settings"])  # a malformed secret fails here, quoting no key
    except HongyanError as exc:
        fail(str(exc))
    _sources["config"] = config


def config_file() -> Path | None:
    """The `--config` file given, if any (processes started by this one read it again)."""
    return _sources.get("config")


def settings() -> Settings:
    return _state["settings"]


def use_settings(value: Settings) -> None:
    _state["settings"] = value


def switch(state: str) -> bool:
    """An on/off argument as a bool; anything else fails with the choices."""
    if state not in ("on", "off"):
        fail(f"say on or off, not {state!r}")
    return state == "on"


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def with_database(action: Callable[[Settings, Database], Awaitable[T]]) -> T:
    """Run `action` against a migrated database (closed after); errors become
    exit 1 with their message: a read, an audited export, a use case of core/."""

    async def go() -> T:
        current = settings()
        await upgrade_database(current)
        db = Database(current)
        await db.start()
        try:
            return await action(current, db)
        finally:
            await db.close()

    try:
        return asyncio.run(go())
    except HongyanError as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError) as exc:
        url = safe_url(settings().database_url)
        fail(f"database {url} is unavailable: {type(exc).__name__}: {exc}")


def run(action: Callable[[Operator], Awaitable[T]], actor: Actor | None = None) -> T:
    """Run an operator action, as `actor` (default the CLI's, `Actor.cli()`: admin),
    against a migrated database; errors (a role's `Forbidden` too) become exit 1
    with their message."""
    as_actor = actor or Actor.cli()
    return with_database(lambda current, db: action(Operator(current, db, actor=as_actor)))


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def read_password(given: str | None, from_stdin: bool, *, confirm: bool = True) -> str:
    """The password from `--password`, `--password-stdin`, or a prompt that echoes nothing.

    A flag is seen by every user of the machine (`ps`, /proc) and kept in shell
    history; the prompt and stdin are not, so they are the ways to prefer.
    """
    if given is not None and from_stdin:
        fail("give --password or --password-stdin, not both")
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password.removesuffix("\r")
    elif given is not None:
        password = given
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password
