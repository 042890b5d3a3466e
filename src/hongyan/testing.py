"""A customer's push receiver on loopback, for tests, demos and benchmarks.

`PushReceiver` is a small HTTP/1.1 server on 127.0.0.1 that records every
push it answers and can misbehave on purpose (answer 500, redirect, hang,
close the connection), as customers' servers do. It is written on bare
asyncio streams rather than a web framework because the misbehaviours (a
connection closed before any answer, an answer that never comes) are what
frameworks are built to prevent.

Run alone: `python -m hongyan.testing --port 9300 [--mode hang] [--quiet]`; it
prints each push it accepts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

OK, FAIL, REDIRECT, HANG, CLOSE = "ok", "500", "redirect", "hang", "close"
MODES = (OK, FAIL, REDIRECT, HANG, CLOSE)


@dataclass(frozen=True)
class Push:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def payload(self) -> bytes:
        """What a signature covers: the POST body, or the query of a GET."""
        if self.method == "POST":
            return self.body
        return urlsplit(self.target).query.encode("ascii")

    def forms(self) -> list[dict[str, str]]:
        """The name=value forms pushed (one per line of a batched POST), decoded as GBK."""
        return [
            dict(parse_qsl(line.decode("ascii"), keep_blank_values=True, encoding="gb18030"))
            for line in self.payload.split(b"\n")
            if line
        ]


@dataclass
class PushReceiver:
    """Answers pushes on 127.0.0.1; `mode` (or `script(n)` for request n) says how."""

    port: int = 0
    mode: str = OK
    script: Callable[[int], str] | None = None
    received: list[Push] = field(default_factory=list)  # answered 2xx
    on_push: Callable[[Push], None] | None = None
    attempts: int = 0  # every request that arrived, answered or not

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._closing: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/push"

    # -- running in a thread (tests) -----------------------------------------------

    def start(self) -> PushReceiver:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="push-receiver")
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("push receiver did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def forms(self) -> list[dict[str, str]]:
        with self._lock:
            pushes = list(self.received)
        return [form for push in pushes for form in push.forms()]

    # -- serving -----------------------------------------------------------------

    async def serve(self) -> None:
        self._closing = asyncio.Event()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, end hanging answers, close every connection."""
        assert self._closing is not None and self._server is not None
        self._closing.set()
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        tasks = list(self._connections.values())
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[writer] = task
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            del self._connections[writer]
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        with self._lock:
            number = self.attempts
            self.attempts += 1
        mode = self.script(number) if self.script is not None else self.mode
        if mode == CLOSE:
            return False
        if mode == HANG:
            assert self._closing is not None
            await self._closing.wait()
            return False
        if mode == OK:
            push = Push(method, target, headers, body, time.monotonic())
            with self._lock:
                self.received.append(push)
            if self.on_push is not None:
                self.on_push(push)
            status = "200 OK"
            extra = ""
        elif mode == REDIRECT:
            status, extra = "302 Found", "Location: http://127.0.0.1:1/elsewhere\r\n"
        else:
            status, extra = "500 Internal Server Error", ""
        answer = b"ok" if mode == OK else b"no"
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(answer)}\r\n{extra}\r\n".encode() + answer
        )
        await writer.drain()
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, default=OK)
    parser.add_argument("--quiet", action="store_true", help="do not print each push")
    args = parser.parse_args()

    def show(push: Push) -> None:
        for form in push.forms():
            print(" ".join(f"{k}={v}" for k, v in form.items()), flush=True)

    receiver = PushReceiver(args.port, args.mode, on_push=None if args.quiet else show)

    async def run() -> None:
        await receiver.serve()
        print(f"listening on http://127.0.0.1:{receiver.port}/ ({receiver.mode})", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
