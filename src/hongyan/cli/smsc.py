"""`hongyan smsc`: the SMPP 3.4 SMSC simulator, for demos, tests and staging."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from hongyan.cli.common import fail


def smsc(
    port: Annotated[int, typer.Option(help="SMPP port (127.0.0.1)")] = 2775,
    system_id: Annotated[str, typer.Option(help="system_id an ESME binds with")] = "hongyan",
    # The simulator's demo credentials, the same as an smpp channel's example.
    password: Annotated[str, typer.Option(help="its password")] = "secret",  # noqa: S107
    account: Annotated[
        list[str] | None,
        typer.Option(help="another SYSTEM_ID:PASSWORD that may bind (repeatable)"),
    ] = None,
    receipt_delay: Annotated[
        float, typer.Option(help="seconds before a receipt (up to twice this)")
    ] = 0.2,
    failure_ratio: Annotated[float, typer.Option(help="share of receipts UNDELIV")] = 0.0,
    response_delay: Annotated[
        float, typer.Option(help="seconds before each submit_sm_resp (a slow carrier)")
    ] = 0.0,
    tps: Annotated[float, typer.Option(help="submits a second before THROTTLED; 0: none")] = 0,
    id_base: Annotated[str, typer.Option(help="submit_sm_resp ids: hex or dec")] = "hex",
    receipt_id_base: Annotated[str, typer.Option(help="receipt text ids: hex or dec")] = "hex",
    control_port: Annotated[
        int, typer.Option(help="HTTP control port on 127.0.0.1 (0: none)")
    ] = 2776,
    quiet: Annotated[bool, typer.Option(help="no counters every 5 s")] = False,
) -> None:
    """An SMPP 3.4 SMSC simulator to point an `smpp` channel at (demos, tests, staging)."""
    from pydantic import ValidationError

    from hongyan.channels.smpp.smsc import Smsc, SmscSettings

    accounts = {system_id: password}
    for extra in account or []:
        name, sep, secret = extra.partition(":")
        if not sep or not name:
            fail(f"--account {extra.split(':')[0]!r}: give SYSTEM_ID:PASSWORD")
        accounts[name] = secret
    try:
        settings = SmscSettings(
            port=port,
            accounts=accounts,
            receipt_delay_min_s=receipt_delay,
            receipt_delay_max_s=receipt_delay * 2,
            failure_ratio=failure_ratio,
            response_delay_s=response_delay,
            tps=tps or None,
            id_base=id_base,
            receipt_id_base=receipt_id_base,
            control_port=control_port or None,
        )
    except ValidationError as exc:
        fail(f"invalid option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")

    async def run() -> None:
        server = Smsc(settings)
        try:
            await server.start()
        except OSError as exc:
            fail(f"cannot listen: {exc}")
        control = f", control http://127.0.0.1:{server.control_port}/" if control_port else ""
        ids = ", ".join(accounts)
        typer.echo(f"SMSC listening on 127.0.0.1:{server.port} (system_id {ids}){control}")
        try:
            while True:
                await asyncio.sleep(5)
                if not quiet:
                    typer.echo(" ".join(f"{k}={v}" for k, v in server.stats().items()))
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
