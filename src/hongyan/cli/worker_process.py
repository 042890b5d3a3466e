"""The delivery worker beside the API, as `hongyan serve` runs it by default.

One process cannot use both cores: accepting and delivering would share one
GIL (issue 13). So plain `serve` runs the customer API in its own process(es)
and starts one `hongyan serve --role worker` child for delivery: channels,
dispatcher, receipts, housekeeping and push. One child only, whatever
`--workers` says: a channel must have one owner.

The child is tied to the API process: it is restarted (with a growing pause)
if it fails, stopped with SIGTERM when the API stops, and on Linux it dies
with SIGKILL if the API process dies without stopping it (PR_SET_PDEATHSIG),
so that a restarted `serve` never finds an old worker still running the
channels. A child that exits cleanly without being asked by us was stopped
by a signal meant for both (Ctrl-C reaches the whole process group): it is
not restarted.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Set in the child: the pid of the API process it belongs to.
PARENT_ENV = "HONGYAN_API_PID"
_PR_SET_PDEATHSIG = 1
_RESTART_FIRST_S, _RESTART_MAX_S = 1.0, 30.0
_STEADY_S = 60.0  # a child that ran this long starts the pauses afresh when it fails
_STOP_WAIT_S = 30.0


class WorkerChild:
    """Runs, watches and stops the delivery worker process."""

    def __init__(self, config: Path | None) -> None:
        self._argv = [sys.executable, "-m", "hongyan"]
        if config is not None:
            self._argv += ["--config", str(config.resolve())]
        self._argv += ["serve", "--role", "worker"]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        with self._lock:
            self._proc = subprocess.Popen(self._argv, env=env)
        log.info("delivery worker process started", extra={"pid": self._proc.pid})

    def _watch(self) -> None:
        pause = _RESTART_FIRST_S
        while True:
            with self._lock:
                proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            if code == 0:
                log.info("delivery worker process stopped; not restarting it")
                return
            if time.monotonic() - started > _STEADY_S:
                pause = _RESTART_FIRST_S
            log.error(
                "delivery worker process failed; restarting it",
                extra={"exit_code": code, "pause_s": pause},
            )
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, _RESTART_MAX_S)
            self._spawn()

    def stop(self) -> None:
        """SIGTERM, then wait for it to finish what it holds (SIGKILL after 30 s)."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            log.error("delivery worker process did not stop in time; killing it")
            proc.kill()
            proc.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)


def die_with_parent() -> None:
    """In the child: SIGKILL when the API process that started it dies (Linux).

    Elsewhere nothing is set up; the child then outlives a killed parent
    until it is stopped."""
    parent = os.environ.get(PARENT_ENV)
    if parent is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(parent):  # it died before the signal was asked for
        os._exit(1)
