"""`hongyan smsc`: the carrier simulators, for demos, tests and staging: an
SMPP 3.4 SMSC, or a CMPP 2.0 / 3.0 ISMG (`--protocol`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Literal

import typer

from hongyan.cli.common import fail

# The simulators' demo credentials, the same as the channels' examples.
_DEFAULT_ID = {"smpp": "hongyan", "cmpp": "901234"}
_DEFAULT_PORT = {"smpp": 2775, "cmpp": 7890}


def smsc(
    protocol: Annotated[
        Literal["smpp", "cmpp2", "cmpp3"],
        typer.Option(help="smpp (3.4), or a CMPP gateway: cmpp2 (2.0 only) or cmpp3 (2.0, 3.0)"),
    ] = "smpp",
    port: Annotated[
        int | None, typer.Option(help="port on 127.0.0.1: 2775, or 7890 for CMPP")
    ] = None,
    system_id: Annotated[
        str | None,
        typer.Option(
            help="system_id an ESME binds with (hongyan); "
            "CMPP: the SP's Source_Addr, 6 characters (901234)"
        ),
    ] = None,
    password: Annotated[str, typer.Option(help="its password; CMPP: the shared secret")] = "secret",  # noqa: S107
    account: Annotated[
        list[str] | None,
        typer.Option(help="another SYSTEM_ID:PASSWORD that may bind or connect (repeatable)"),
    ] = None,
    receipt_delay: Annotated[
        float, typer.Option(help="seconds before a receipt (up to twice this)")
    ] = 0.2,
    failure_ratio: Annotated[float, typer.Option(help="share of receipts UNDELIV")] = 0.0,
    response_delay: Annotated[
        float, typer.Option(help="seconds before each submit response (a slow carrier)")
    ] = 0.0,
    tps: Annotated[
        float, typer.Option(help="submits a second before throttling them; 0: no limit")
    ] = 0,
    id_base: Annotated[str, typer.Option(help="SMPP: submit_sm_resp ids, hex or dec")] = "hex",
    receipt_id_base: Annotated[
        str, typer.Option(help="SMPP: receipt text ids, hex or dec")
    ] = "hex",
    gateway_code: Annotated[
        int, typer.Option(help="CMPP: the ISMG's code in each Msg_Id (22 bits)")
    ] = 10001,
    control_port: Annotated[
        int, typer.Option(help="HTTP control port on 127.0.0.1 (0: none)")
    ] = 2776,
    enquire_link: Annotated[
        float, typer.Option(help="SMPP: seconds of silence before probing an ESME (dead: unbound)")
    ] = 30.0,
    quiet: Annotated[bool, typer.Option(help="no counters every 5 s")] = False,
) -> None:
    """A carrier to point a channel at: an SMPP 3.4 SMSC, or a CMPP 2.0 / 3.0 ISMG."""
    from pydantic import ValidationError

    from hongyan.channels.cmpp.ismg import Ismg, IsmgSettings
    from hongyan.channels.smpp.smsc import Smsc, SmscSettings

    family = "smpp" if protocol == "smpp" else "cmpp"
    accounts = {system_id or _DEFAULT_ID[family]: password}
    for extra in account or []:
        name, sep, secret = extra.partition(":")
        if not sep or not name:
            fail(f"--account {extra.split(':')[0]!r}: give SYSTEM_ID:PASSWORD")
        accounts[name] = secret
    listen = _DEFAULT_PORT[family] if port is None else port
    common = {
        "port": listen,
        "accounts": accounts,
        "receipt_delay_min_s": receipt_delay,
        "receipt_delay_max_s": receipt_delay * 2,
        "failure_ratio": failure_ratio,
        "response_delay_s": response_delay,
        "tps": tps or None,
        "control_port": control_port or None,
    }
    try:
        settings: SmscSettings | IsmgSettings
        if protocol == "smpp":
            settings = SmscSettings(
                id_base=id_base,
                receipt_id_base=receipt_id_base,
                enquire_link_s=enquire_link,
                **common,
            )
        else:
            settings = IsmgSettings(protocol=protocol, gateway_code=gateway_code, **common)
    except ValidationError as exc:
        error = exc.errors()[0]
        fail(f"invalid option: {error['loc'][0] if error['loc'] else ''}: {error['msg']}")
    what, ids = ("SMSC", "system_id") if protocol == "smpp" else ("ISMG", "Source_Addr")

    async def run() -> None:
        server = Smsc(settings) if isinstance(settings, SmscSettings) else Ismg(settings)
        try:
            await server.start()
        except OSError as exc:
            fail(f"cannot listen: {exc}")
        control = f", control http://127.0.0.1:{server.control_port}/" if control_port else ""
        names = ", ".join(accounts)
        typer.echo(
            f"{what} listening on 127.0.0.1:{server.port} ({protocol}, {ids} {names}){control}"
        )
        try:
            while True:
                await asyncio.sleep(5)
                if not quiet:
                    typer.echo(" ".join(f"{k}={v}" for k, v in server.stats().items()))
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
