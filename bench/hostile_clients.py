"""The hostile clients of bench/hostile.py, in a process of their own.

    .venv/bin/python bench/hostile_clients.py --port PORT [--slow 500] [--oversized 4]

`--slow` clients spread over 16 loopback addresses (under the 64 connections
a client address may hold): a third send a request head one line a second, a
third a body of 150 KB at 500 bytes a second, a third nothing; each
reconnects when the server cuts it off. `--oversized` clients post, again and
again, the issue's probe: a 3.96 MB `%XX` body with a wrong password. Every
half second a line `connected N` on stdout; on SIGTERM (or after
`--duration`), a line `done cut_off=... refused=... oversized_answered=...
oversized_lost=...`. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass

from mt_api import HOST, UID

SOURCES = [f"127.0.1.{i}" for i in range(1, 17)]  # 16 addresses: under 64 connections each
SLOW_BODY = 150_000  # within /mt/'s 192 KiB limit: read, slowly
# The probe: 3.96 MB of %XX with a wrong password (under the 4 MB limit of before).
OVERSIZED = b"uid=%s&pwd=%s&content=" % (UID.encode(), b"0" * 32) + b"%B7%A2" * 660_000


@dataclass
class Attack:
    port: int
    stop: asyncio.Event
    connected: int = 0
    cut_off: int = 0  # slow connections the server answered or closed
    refused: int = 0  # connections that could not be opened
    oversized_answered: int = 0  # 3.96 MB posts whose protocol answer the client read
    oversized_lost: int = 0  # 3.96 MB posts reset before the client read an answer


async def _open(
    attack: Attack, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A connection from `source`, or None (counted, after a pause) when refused."""
    try:
        return await asyncio.open_connection(HOST, attack.port, local_addr=(source, 0))
    except OSError:
        attack.refused += 1
        await asyncio.sleep(0.5)
        return None


async def _slow(attack: Attack, source: str, kind: str) -> None:
    while not attack.stop.is_set():
        connection = await _open(attack, source)
        if connection is None:
            continue
        reader, writer = connection
        attack.connected += 1
        try:
            if kind == "head":
                writer.write(b"GET /mm/?uid=x HTTP/1.1\r\nHost: a\r\n")
            elif kind == "body":
                writer.write(
                    b"POST /mt/ HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\nuid=x" % SLOW_BODY
                )
            line = 0
            while not attack.stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
                except TimeoutError:
                    line += 1
                    if kind == "head":
                        writer.write(b"X-Slow-%d: v\r\n" % line)
                    elif kind == "body":
                        writer.write(b"x" * 500)
                    continue
                attack.cut_off += 1
                if data:
                    with contextlib.suppress(OSError, TimeoutError):
                        await asyncio.wait_for(reader.read(), timeout=5)
                break
        except OSError:
            attack.cut_off += 1
        finally:
            attack.connected -= 1
            writer.close()


async def _oversized(attack: Attack, source: str) -> None:
    head = b"POST /mt/ HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(OVERSIZED)
    while not attack.stop.is_set():
        connection = await _open(attack, source)
        if connection is None:
            continue
        reader, writer = connection
        try:
            writer.write(head + OVERSIZED)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=30)
            if answer.startswith(b"HTTP/1.1 ") and b"sms&stat=" in answer:
                attack.oversized_answered += 1
            else:
                attack.oversized_lost += 1
        except (OSError, TimeoutError):
            attack.oversized_lost += 1
        finally:
            writer.close()


async def attack_main(port: int, slow: int, oversized: int, duration: float) -> None:
    attack = Attack(port, asyncio.Event())
    kinds = ("head", "body", "idle")
    tasks = [
        asyncio.create_task(_slow(attack, SOURCES[i % len(SOURCES)], kinds[i % 3]))
        for i in range(slow)
    ]
    tasks += [asyncio.create_task(_oversized(attack, "127.0.2.1")) for _ in range(oversized)]
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, attack.stop.set)
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline and not attack.stop.is_set():
        print(f"connected {attack.connected}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attack.stop.wait(), timeout=0.5)
        if os.getppid() == 1:  # the measuring process is gone
            break
    attack.stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        f"done cut_off={attack.cut_off} refused={attack.refused} "
        f"oversized_answered={attack.oversized_answered} oversized_lost={attack.oversized_lost}",
        flush=True,
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--slow", type=int, default=500)
    p.add_argument("--oversized", type=int, default=4)
    p.add_argument("--duration", type=float, default=120.0, help="seconds, at most")
    args = p.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(attack_main(args.port, args.slow, args.oversized, args.duration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
