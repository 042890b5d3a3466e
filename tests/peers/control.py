"""The HTTP control API both test SMSCs answer (`hongyan smsc` and smsc.js).

Each accepted submit they list carries `bind`: the number of the session it
came over, 1 for the first bind the SMSC accepted.
"""

from __future__ import annotations

import subprocess
from typing import Any

import httpx


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Terminate a peer's process; kill it if it has not ended within 5 s."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ControlledSmsc:
    """Counters, submits, replies, throttling and drops over the control port."""

    _http: httpx.Client | None = None

    def _close_client(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._http

    def counters(self) -> dict[str, int]:
        resp = self._client().get("/counters")
        resp.raise_for_status()
        result: dict[str, int] = resp.json()
        return result

    def submits(self) -> list[dict[str, Any]]:
        resp = self._client().get("/submits")
        resp.raise_for_status()
        result: list[dict[str, Any]] = resp.json()
        return result

    def _post(self, path: str, body: dict[str, Any]) -> None:
        self._client().post(path, json=body).raise_for_status()

    def inject_mo(
        self, source: str, destination: str, text: str, parts: int = 1, split: str = "udh8"
    ) -> None:
        body = {"source": source, "destination": destination, "text": text, "parts": parts}
        self._post("/mo", {**body, "split": split})

    def throttle(self, seconds: float) -> None:
        self._post("/throttle", {"seconds": seconds})

    def drop(self) -> None:
        self._post("/drop", {})

    def freeze(self, seconds: float) -> None:
        """Go silent, connections left open, for `seconds`."""
        self._post("/freeze", {"seconds": seconds})

    def delay_responses(self, seconds: float) -> None:
        """Answer each submit_sm `seconds` after it came in, from now on."""
        self._post("/delay", {"seconds": seconds})
