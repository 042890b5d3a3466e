"""`hongyan operator ...`: the operator console's operators, as the CLI's actor.

The CLI acts as `Actor.cli()` (the machine's user, as admin): it makes the
first operator, when nobody can sign in to the console yet, and every
change is in the audit log as any console change is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer

from hongyan.cli.common import (
    PasswordOption,
    PasswordStdinOption,
    read_password,
    settings,
    with_database,
)
from hongyan.core.audit import Actor
from hongyan.core.operators import OperatorRecord, Operators
from hongyan.core.roles import ROLES, SUPPORT
from hongyan.store.engine import now_ms

T = TypeVar("T")

operator_app = typer.Typer(no_args_is_help=True, help="Operators of the operator console")

RoleOption = Annotated[
    str, typer.Option("--role", help=f"one of {', '.join(ROLES)}", show_default=True)
]


def _run(action: Callable[[Operators, Actor], Awaitable[T]]) -> T:
    """Run an operator use case against a migrated database; errors become exit 1."""
    return with_database(lambda current, db: action(Operators(current, db), Actor.cli()))


def _when(ms: int | None) -> str:
    if not ms:
        return "never"
    zone = ZoneInfo(settings().timezone)
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def _describe(record: OperatorRecord) -> str:
    state = "DISABLED" if record.disabled else "active"
    if not record.disabled and record.locked_until > now_ms():
        state = f"locked until {_when(record.locked_until)}"
    totp = "on" if record.totp_on else "off"
    return (
        f"operator {record.name}: role {record.role}, {state}, second factor {totp}, "
        f"last sign-in {_when(record.signed_in_at)}"
    )


@operator_app.command("create")
def operator_create(
    name: str,
    role: RoleOption = SUPPORT,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Create an operator; the password is asked for (or --password-stdin)."""
    secret = read_password(password, password_stdin)
    record = _run(lambda ops, actor: ops.create(actor, name, role, secret))
    typer.echo(f"created {_describe(record)}")


@operator_app.command("list")
def operator_list() -> None:
    """Every operator, one a line."""

    async def every(ops: Operators, _actor: Actor) -> list[OperatorRecord]:
        return await ops.list()

    records = _run(every)
    if not records:
        typer.echo("no operators yet: hongyan operator create NAME --role admin")
    for record in records:
        typer.echo(_describe(record))


@operator_app.command("disable")
def operator_disable(name: str) -> None:
    """Disable an operator: no sign-in, and their sessions end now."""
    typer.echo(f"disabled {_describe(_run(lambda ops, actor: ops.disable(actor, name)))}")


@operator_app.command("enable")
def operator_enable(name: str) -> None:
    """Enable an operator again (a lock from failed sign-ins ends too)."""
    typer.echo(f"enabled {_describe(_run(lambda ops, actor: ops.enable(actor, name)))}")


@operator_app.command("role")
def operator_role(name: str, role: str) -> None:
    """Give an operator another role (admin, support or finance)."""
    typer.echo(f"changed {_describe(_run(lambda ops, actor: ops.set_role(actor, name, role)))}")


@operator_app.command("password")
def operator_password(
    name: str, password: PasswordOption = None, password_stdin: PasswordStdinOption = False
) -> None:
    """Set an operator's password (asked for, or --password-stdin); their sessions end."""
    secret = read_password(password, password_stdin)
    record = _run(lambda ops, actor: ops.set_password(actor, name, secret))
    typer.echo(f"password set for {_describe(record)}")


@operator_app.command("totp-reset")
def operator_totp_reset(name: str) -> None:
    """Remove an operator's second factor (a lost phone); they set up a new one."""
    record = _run(lambda ops, actor: ops.reset_totp(actor, name))
    typer.echo(f"second factor removed: {_describe(record)}")
