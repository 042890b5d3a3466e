"""The `hongyan` command, one module per command group:

server     migrate, serve (and the demo account of `make run`)
accounts   account create/show/password/unlock/dialect/limits/push/...
secret     secret rotate/status/retire: the server keys
audit      audit list: the audit log of operator actions
operators  operator create/list/disable/enable/role/password/totp-reset
ops        ops pause/resume/maintenance, keywords
delivery   mo inject, channel list, push status
smsc       the carrier simulators: SMPP SMSC, CMPP ISMG
client     the Python SDK from the shell
ledger     ledger report/check: finance reports, the ledger against the balances
messages   message search/show: messages of every account and their whole life
common     settings, running an operator action, failing, reading passwords
"""

from __future__ import annotations

import typer

from hongyan.cli import server, smsc
from hongyan.cli.accounts import account_app
from hongyan.cli.audit import audit_app
from hongyan.cli.client import client_app
from hongyan.cli.common import ConfigOption, load
from hongyan.cli.delivery import channel_app, mo_app, push_app
from hongyan.cli.ledger import ledger_app
from hongyan.cli.messages import message_app
from hongyan.cli.operators import operator_app
from hongyan.cli.ops import keywords_app, ops_app
from hongyan.cli.secret import secret_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="hongyan SMS gateway platform")
app.command()(server.migrate)
app.command()(server.serve)
app.command("smsc")(smsc.smsc)
app.add_typer(account_app, name="account")
app.add_typer(ops_app, name="ops")
app.add_typer(keywords_app, name="keywords")
app.add_typer(mo_app, name="mo")
app.add_typer(client_app, name="client")
app.add_typer(channel_app, name="channel")
app.add_typer(push_app, name="push")
app.add_typer(secret_app, name="secret")
app.add_typer(audit_app, name="audit")
app.add_typer(operator_app, name="operator")
app.add_typer(ledger_app, name="ledger")
app.add_typer(message_app, name="message")


@app.callback()
def _main(config: ConfigOption = None) -> None:
    load(config)


def main() -> None:
    app()
