"""`hongyan smsc` in a process of its own (an SMPP SMSC, or with `protocol`
"cmpp2" / "cmpp3" a CMPP gateway), with the same controls as `NodeSmsc`.

Both peers answer the same HTTP control API (GET /counters, GET /submits,
POST /mo, /throttle, /drop, /freeze, /delay), so one integration test runs
against either.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tests.integration.test_serve import free_port
from tests.peers.control import ControlledSmsc, stop_process
from tests.waiting import WAIT_S

READY_TIMEOUT = WAIT_S  # only ends a hang: a loaded CI machine starts processes slowly


class HongyanSmsc(ControlledSmsc):
    def __init__(
        self,
        system_id: str = "hongyan",
        password: str = "secret",
        failure_ratio: float = 0.0,
        receipt_delay_ms: int = 200,
        log_dir: Path | None = None,
        *,
        tps: float = 0,
        response_delay_ms: int = 0,
        protocol: str = "smpp",
        enquire_link_s: float = 30.0,
    ) -> None:
        self.enquire_link_s = enquire_link_s
        self.system_id = system_id
        self.protocol = protocol
        self.response_delay_ms = response_delay_ms
        self.tps = tps
        self.password = password
        self.failure_ratio = failure_ratio
        self.receipt_delay_ms = receipt_delay_ms
        self.port = self.control_port = 0
        directory = log_dir or Path(tempfile.mkdtemp(prefix="hongyan-smsc-"))
        self._log_path = directory / f"smsc-{time.monotonic_ns()}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    def __enter__(self) -> Self:
        self.port, self.control_port = free_port(), free_port()
        delay = self.receipt_delay_ms / 1000 / 1.5  # receipts come after delay..2*delay
        with self._log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "hongyan", "smsc", "--quiet"),
                    *("--port", str(self.port), "--control-port", str(self.control_port)),
                    *("--system-id", self.system_id, "--password", self.password),
                    *("--failure-ratio", str(self.failure_ratio)),
                    *("--receipt-delay", str(delay)),
                    *("--id-base", "hex", "--receipt-id-base", "dec"),
                    *("--tps", str(self.tps)),
                    *("--protocol", self.protocol),
                    *(
                        ("--enquire-link", str(self.enquire_link_s))
                        if self.protocol == "smpp"
                        else ()
                    ),
                ],
                cwd=self._log_path.parent,  # the CLI's settings may create var/ there
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{self.control_port}", timeout=30.0)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                self._http.get("/counters")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"hongyan smsc did not start: {self.log()}") from None
                time.sleep(0.05)
        if self.response_delay_ms:  # `hongyan smsc` takes it over the control port
            self.delay_responses(self.response_delay_ms / 1000)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_client()
        if self._proc is not None:
            stop_process(self._proc)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")[-2000:]
