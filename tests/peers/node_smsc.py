"""Run tests/peers/smsc.js, an SMPP 3.4 SMSC built on the npm library ``smpp``.

It is a peer this project did not write, for integration tests::

    reason = node_available()
    if reason:
        pytest.skip(reason)
    with NodeSmsc(failure_ratio=0.1) as smsc:
        ...  # bind to 127.0.0.1:smsc.port as "hongyan" / "secret"
        assert smsc.counters()["submits"] == 1

What the SMSC does (see smsc.js): message ids are a counter written in lowercase
hex in submit_sm_resp, but in DECIMAL in the receipt text ``id:<n>``; the
receipted_message_id TLV carries the hex id.  A destination ending in 9999 gets
ESME_RINVDSTADR.  Receipts and MO are resent every 500 ms until acknowledged OK.
With ``response_delay_ms`` each submit_sm_resp is held that long (the submit is
decided when it comes in), as a distant carrier answers.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from tests.integration.test_serve import free_port
from tests.peers.control import ControlledSmsc, stop_process
from tests.waiting import WAIT_S

PEERS_DIR = Path(__file__).resolve().parent
SCRIPT = PEERS_DIR / "smsc.js"
# Generous: they only end a hang, and a loaded CI machine starts processes slowly.
READY_TIMEOUT = WAIT_S
CONTROL_TIMEOUT = 30.0


@functools.cache
def node_available() -> str | None:
    """None when the SMSC can run, else the reason to skip."""
    node = shutil.which("node")
    if node is None:
        return "no `node` binary on PATH"
    if (PEERS_DIR / "node_modules" / "smpp" / "package.json").is_file():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "tests/peers/node_modules is missing and there is no `npm`"
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=PEERS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`npm ci` in tests/peers failed: {exc}"
    if done.returncode != 0:
        return f"`npm ci` in tests/peers failed: {done.stderr.strip()[-500:]}"
    return None


class NodeSmsc(ControlledSmsc):
    """Context manager running smsc.js on free loopback ports."""

    def __init__(
        self,
        system_id: str = "hongyan",
        password: str = "secret",
        failure_ratio: float = 0.0,
        receipt_delay_ms: int = 200,
        *,
        first_id: int = 0x1A2B,
        response_delay_ms: int = 0,
    ) -> None:
        self.response_delay_ms = response_delay_ms
        self.system_id = system_id
        self.password = password
        self.failure_ratio = failure_ratio
        self.receipt_delay_ms = receipt_delay_ms
        self.first_id = first_id
        self.port = 0
        self.control_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._last_log = ""
        self._http: httpx.Client | None = None

    def __enter__(self) -> Self:
        reason = node_available()
        if reason is not None:
            raise RuntimeError(reason)
        self.port, self.control_port = free_port(), free_port()
        self._log = tempfile.TemporaryFile()
        args = [
            "node",
            str(SCRIPT),
            *("--port", str(self.port), "--control-port", str(self.control_port)),
            *("--system-id", self.system_id, "--password", self.password),
            *("--failure-ratio", str(self.failure_ratio)),
            *("--receipt-delay-ms", str(self.receipt_delay_ms)),
            *("--first-id", str(self.first_id)),
            *("--response-delay-ms", str(self.response_delay_ms)),
        ]
        self._proc = subprocess.Popen(
            args, cwd=PEERS_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log
        )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.control_port}", timeout=CONTROL_TIMEOUT
        )
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + READY_TIMEOUT
        seen = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in seen:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise RuntimeError(f"smsc.js not ready in {READY_TIMEOUT}s: {self.log()}")
                chunk = os.read(fd, 1024)
                if not chunk:
                    raise RuntimeError(f"smsc.js exited: {self.log()}")
                seen += chunk
        if seen.split(b"\n", 1)[0].strip() != b"ready":
            raise RuntimeError(f"smsc.js said {seen!r}: {self.log()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_client()
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._last_log = self.log()
            self._log.close()
            self._log = None

    def log(self) -> str:
        """What smsc.js wrote on stderr (the last 2000 characters)."""
        if self._log is None:
            return self._last_log
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]
