"""`hongyan account ...`: customer accounts, their limits, addresses and push."""

from __future__ import annotations

from typing import Annotated

import typer

from hongyan.cli.common import (
    PasswordOption,
    PasswordStdinOption,
    fail,
    read_password,
    run,
    switch,
)
from hongyan.core.access import Lock
from hongyan.core.admin import Operator

account_app = typer.Typer(no_args_is_help=True, help="Customer accounts")


def _describe(summary: object) -> str:
    from hongyan.core.models import AccountSummary

    assert isinstance(summary, AccountSummary)
    limits = f"rate {summary.rate_limit or 'off'}/s, per number {summary.per_number}"
    dialect = f"dialect {summary.dialect}" + (
        " (pwd also md5(password) without uid)" if summary.bare_md5 else ""
    )
    return (
        f"account {summary.uid}: balance {summary.balance} parts, sent {summary.sent_total}, "
        f"{'FROZEN' if summary.frozen else 'active'}, "
        f"API sending {'on' if summary.api_send else 'off'}, {limits}, "
        f"extension {summary.ext_code}, "
        f"refund on failure {'on' if summary.refund_on_failure else 'off'}, "
        f"bound addresses {', '.join(summary.networks) or 'none'}, {dialect}"
    )


def _describe_locks(locks: list[Lock]) -> str:
    return ", ".join(f"{lock.client} until {lock.until}" for lock in locks) or "none"


@account_app.command("create")
def account_create(
    uid: str,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
    balance: Annotated[int, typer.Option(help="initial balance in parts")] = 0,
) -> None:
    """Create an account; its login password is asked for (or --password-stdin)."""
    secret = read_password(password, password_stdin)
    summary = run(lambda op: op.create_account(uid, secret, balance))
    typer.echo(f"created {_describe(summary)}")


@account_app.command("show")
def account_show(uid: str) -> None:
    """Show an account, its extension code and the gateway number replies arrive on."""

    async def show(op: Operator) -> str:
        summary = await op.show(uid)
        push = _describe_push(await op.push_target(uid))
        locks = _describe_locks(await op.access.locks(uid))
        return (
            f"{_describe(summary)}; replies arrive on {op.gateway_number(summary)}[mid]; "
            f"push {push}; locked out: {locks}"
        )

    typer.echo(run(show))


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
    secret_stdin: Annotated[
        bool,
        typer.Option("--secret-stdin", help="read the signing key from the first line of stdin"),
    ] = False,
    batch: Annotated[
        bool | None,
        typer.Option("--batch/--no-batch", help="several reports a POST, one a line"),
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="stop pushing; queued items go to pull")
    ] = False,
) -> None:
    """Push an account's replies and status reports to its server instead of /rx/ and /st/."""
    if secret_stdin:
        secret = read_password(secret, True)
    if off:
        if any(v is not None for v in (replies, reports, method, secret, batch)):
            fail("--off takes no other option")
        run(lambda op: op.push_off(uid))
        typer.echo(f"push for {uid} is off: replies and reports wait for /rx/ and /st/")
        return
    if all(v is None for v in (replies, reports, method, secret, batch)):
        target = run(lambda op: op.push_target(uid))
    else:
        target = run(
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
    on = switch(state)
    run(lambda op: op.set_refund(uid, on))
    typer.echo(f"refund on failure for {uid} is {state}")


NoteOption = Annotated[
    str, typer.Option("--note", help="why (kept in the ledger and the audit log)")
]


@account_app.command("topup", context_settings={"ignore_unknown_options": True})
def account_topup(uid: str, amount: int, note: NoteOption) -> None:
    """Add parts to an account's balance, with a note (recorded in its ledger)."""
    balance = run(lambda op: op.topup(uid, amount, note))
    typer.echo(f"topped up {uid} by {amount} parts: balance {balance}")


@account_app.command("deduct", context_settings={"ignore_unknown_options": True})
def account_deduct(uid: str, amount: int, note: NoteOption) -> None:
    """Take parts off an account's balance (never below zero), with a note (in its ledger)."""
    balance = run(lambda op: op.deduct(uid, amount, note))
    typer.echo(f"deducted {amount} parts from {uid}: balance {balance}")


@account_app.command("extension")
def account_extension(uid: str, code: str) -> None:
    """Give an account another extension code; replies to the old number stop reaching it."""
    summary = run(lambda op: op.set_extension(uid, code))
    typer.echo(f"extension of {uid} is {summary.ext_code}")


@account_app.command("freeze")
def account_freeze(uid: str) -> None:
    """Freeze an account: every request answers 109."""
    run(lambda op: op.set_frozen(uid, True))
    typer.echo(f"froze {uid}")


@account_app.command("unfreeze")
def account_unfreeze(uid: str) -> None:
    """Unfreeze an account."""
    run(lambda op: op.set_frozen(uid, False))
    typer.echo(f"unfroze {uid}")


@account_app.command("bind-ip")
def account_bind_ip(uid: str, address: str) -> None:
    """Bind an IP address or CIDR range: requests from elsewhere answer 117."""
    network = run(lambda op: op.bind_address(uid, address))
    typer.echo(f"bound {network} to {uid}")


@account_app.command("unbind-ip")
def account_unbind_ip(uid: str, address: str) -> None:
    """Remove a bound address."""
    network = run(lambda op: op.unbind_address(uid, address))
    typer.echo(f"unbound {network} from {uid}")


@account_app.command("api-send")
def account_api_send(uid: str, state: str) -> None:
    """Allow (on) or forbid (off, answers 116) sending through the API."""
    on = switch(state)
    run(lambda op: op.set_api_send(uid, on))
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
    summary = run(lambda op: op.set_limits(uid, rate=rate, per_number=per_number))
    typer.echo(
        f"limits of {uid}: rate {summary.rate_limit or 'off'}/s, per number {summary.per_number}"
    )


@account_app.command("password")
def account_password(
    uid: str,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Change the login password; the API pwd (md5 of password + uid) changes with it."""
    secret = read_password(password, password_stdin)
    summary = run(lambda op: op.access.set_password(uid, secret))
    also = " and md5(password) without uid" if summary.bare_md5 else ""
    typer.echo(
        f"changed the password of {uid}: its API pwd is now md5(new password + uid){also}; "
        "the old pwd answers 101 from now on"
    )


@account_app.command("unlock")
def account_unlock(
    uid: str,
    ip: Annotated[
        str | None,
        typer.Option("--ip", help="only the lock of this address (or IPv6 /64); default all"),
    ] = None,
) -> None:
    """Lift a lockout (114): the uid's locks from every client, or from --ip only."""
    lifted = run(lambda op: op.access.unlock(uid, ip))
    if lifted:
        typer.echo(f"lifted the lock of {uid} for {_describe_locks(lifted)}")
    else:
        where = f" for {ip}" if ip else ""
        typer.echo(f"{uid} had no active lock{where}; its failed logins are forgotten")


@account_app.command("dialect")
def account_dialect(uid: str, dialect: str) -> None:
    """Answer /mm/ as the sister platform does (legacy: 100||N), or as the document (standard)."""
    summary = run(lambda op: op.access.set_dialect(uid, dialect))
    typer.echo(f"dialect of {uid} is {summary.dialect}")


@account_app.command("bare-md5")
def account_bare_md5(
    uid: str,
    state: str,
    password: PasswordOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Legacy accounts only: also accept pwd = md5(login password) without the uid (weaker).

    Turning it on asks for the account's login password (only hashes are stored)."""
    on = switch(state)
    secret = read_password(password, password_stdin, confirm=False) if on else None
    run(lambda op: op.access.set_bare_md5(uid, on, secret))
    typer.echo(f"pwd = md5(password) without uid for {uid} is {state}")
