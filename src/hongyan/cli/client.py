"""`hongyan client ...`: the Python SDK from the shell, against any api.sms.cn-protocol server.

Every command takes the server and the account:

    hongyan client balance --url http://127.0.0.1:8080 --uid test --password 123123
    hongyan client send --url ... --uid test --pwd b9887c5ebb23ebb294acab183ecf0769 \\
        --mobile 13900008888,13900009999 --content "您的验证码是 1234"

(or SMS_API_URL, SMS_API_UID, SMS_API_PASSWORD / SMS_API_PWD in the environment,
which keeps the password off the command line). Results are printed one per
line, fields separated by tabs; times are the server's wall time. A refusal
exits 1 with `error: <stat> <message>` (e.g. `error: 101 验证失败`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer

from hongyan.client import SmsApiError, SmsClient

__all__ = ["client_app"]

T = TypeVar("T")

client_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Use an api.sms.cn-protocol server as a customer (the Python SDK)",
)

_TIMES = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]

Url = Annotated[
    str, typer.Option("--url", envvar="SMS_API_URL", help="server, e.g. http://api.sms.cn")
]
Uid = Annotated[str, typer.Option("--uid", envvar="SMS_API_UID", help="account (uid)")]
Password = Annotated[
    str | None,
    typer.Option("--password", envvar="SMS_API_PASSWORD", help="login password"),
]
Pwd = Annotated[
    str | None,
    typer.Option("--pwd", envvar="SMS_API_PWD", help="md5(password + uid), instead of --password"),
]
Timeout = Annotated[float, typer.Option("--timeout", help="seconds to wait for an answer")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _call(
    action: Callable[[SmsClient], T],
    url: str,
    uid: str,
    password: str | None,
    pwd: str | None,
    timeout: float,
) -> T:
    """Run one SDK call; a refusal or a bad argument is `error: ...` and exit 1."""
    if (password is None) == (pwd is None):
        _fail("give one of --password and --pwd (or SMS_API_PASSWORD, SMS_API_PWD)")
    try:
        # zone=None: times stay the server's wall time, as the protocol writes them.
        with SmsClient(url, uid, password, pwd=pwd, zone=None, timeout=timeout) as sms:
            return action(sms)
    except (SmsApiError, ValueError) as exc:
        _fail(str(exc))
        raise AssertionError("unreachable") from exc


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _line(*fields: str) -> None:
    """One result a line: tabs between fields, and no field may break the line."""
    typer.echo("\t".join(f.replace("\r", "\\r").replace("\n", "\\n") for f in fields))


@client_app.command()
def send(
    url: Url,
    uid: Uid,
    mobile: Annotated[str, typer.Option(help="numbers, comma-separated (≤ 2000)")],
    content: Annotated[str, typer.Option(help="the text to send")],
    password: Password = None,
    pwd: Pwd = None,
    mobileids: Annotated[
        str | None, typer.Option(help="ids for the status reports, by position")
    ] = None,
    mid: Annotated[str | None, typer.Option(help="sub-extension, up to 6 digits")] = None,
    at: Annotated[
        datetime | None,
        typer.Option(formats=_TIMES, help="send at this server time, YYYY-MM-DD HH:MM[:SS]"),
    ] = None,
    timeout: Timeout = 10.0,
) -> None:
    """Send a message (/mt/); prints each number with its message id."""
    result = _call(
        lambda sms: sms.send(mobile, content, mobileids=mobileids, mid=mid, at=at),
        url,
        uid,
        password,
        pwd,
        timeout,
    )
    for number, mobileid in zip(result.mobiles, result.mobileids, strict=True):
        _line(number, mobileid)


@client_app.command()
def reports(
    url: Url, uid: Uid, password: Password = None, pwd: Pwd = None, timeout: Timeout = 10.0
) -> None:
    """Fetch new status reports (/st/): time, mobile, status, id. Each comes once."""
    for report in _call(lambda sms: sms.reports(), url, uid, password, pwd, timeout):
        _line(_stamp(report.time), report.mobile, report.status, report.mobileid)


@client_app.command()
def replies(
    url: Url,
    uid: Uid,
    password: Password = None,
    pwd: Pwd = None,
    since: Annotated[
        datetime | None,
        typer.Option(formats=_TIMES, help="all replies since this server time, fetched or not"),
    ] = None,
    timeout: Timeout = 10.0,
) -> None:
    """Fetch new replies (/rx/): time, mobile, gateway, content. Each comes once."""
    for reply in _call(lambda sms: sms.replies(since), url, uid, password, pwd, timeout):
        _line(_stamp(reply.time), reply.mobile, reply.gateway, reply.content)


@client_app.command()
def balance(
    url: Url, uid: Uid, password: Password = None, pwd: Pwd = None, timeout: Timeout = 10.0
) -> None:
    """Print the parts (条) left to send (/mm/)."""
    typer.echo(_call(lambda sms: sms.balance(), url, uid, password, pwd, timeout))


@client_app.command()
def sent(
    url: Url, uid: Uid, password: Password = None, pwd: Pwd = None, timeout: Timeout = 10.0
) -> None:
    """Print the parts sent in total (/mm/ cmd=send)."""
    typer.echo(_call(lambda sms: sms.sent_total(), url, uid, password, pwd, timeout))


@client_app.command()
def records(
    url: Url,
    uid: Uid,
    password: Password = None,
    pwd: Pwd = None,
    page: Annotated[int, typer.Option(min=1, help="page, 50 records each, newest first")] = 1,
    date: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="only this day, YYYY-MM-DD")
    ] = None,
    key: Annotated[str | None, typer.Option(help="only this number")] = None,
    timeout: Timeout = 10.0,
) -> None:
    """Print one page of send records (/rd/): a summary line, then time, mobile, status, content."""
    day = date.date() if date is not None else None
    result = _call(lambda sms: sms.records(page, day, key), url, uid, password, pwd, timeout)
    if not result.records:
        typer.echo(f"no records on page {result.page}")
        return
    typer.echo(f"total {result.total}, page {result.page} of {result.pages}")
    for record in result.records:
        _line(_stamp(record.time), record.mobile, record.status, record.content)
