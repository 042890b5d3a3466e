"""Wireshark's tshark as a decoder we did not write: a live capture on the
loopback interface, and tshark's own reading of it.

`decode` gives one dict per PDU of the protocol, as `tshark -T json -x
--no-duplicate-keys` prints it: each field by its Wireshark name
("cmpp.Msg_Fmt": "8"), and beside it "<name>_raw", whose first item is the
field's bytes in hex. All values are strings; a field that occurs more than
once in one tree is a list.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

TSHARK = shutil.which("tshark")

# tshark prints "Capturing on 'Loopback: lo'" some 20 ms before dumpcap
# captures anything; this later line is the one to wait for.
_STARTED = "Capture started"


class CaptureRefused(Exception):
    """tshark ended before capturing: not installed, or not allowed to capture."""


class Capture:
    """`tshark -i lo -f "tcp port PORT" -w PATH`, started and ready."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._stderr: list[str] = []

    def start(self, within_s: float) -> None:
        """Returns once packets are being captured; CaptureRefused if tshark ends first."""
        if TSHARK is None:
            raise CaptureRefused("tshark is not installed")
        self._process = subprocess.Popen(
            [
                TSHARK,
                "-q",
                "-F",
                "pcap",
                "-i",
                "lo",
                "-f",
                f"tcp port {self.port}",
                "-w",
                str(self.path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        # Drained all along: tshark must never block on a full stderr pipe.
        self._reader = threading.Thread(target=self._drain, args=(lines,), daemon=True)
        self._reader.start()
        while True:
            try:
                line = lines.get(timeout=within_s)
            except queue.Empty:
                self.stop()
                raise CaptureRefused(f"tshark did not start within {within_s:.0f} s") from None
            if line is None:
                self.stop()
                raise CaptureRefused(self.errors() or "tshark ended before capturing")
            if _STARTED in line:
                return

    def _drain(self, lines: queue.Queue[str | None]) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line)
            lines.put(line)
        lines.put(None)

    def holds(self, data: bytes) -> bool:
        """Whether the capture file has these bytes yet (dumpcap flushes it
        every half second or so)."""
        return self.path.exists() and data in self.path.read_bytes()

    def stop(self) -> None:
        """SIGINT, as at a terminal: tshark writes out what it has and ends."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=30)  # to the end of what tshark said
        if process.stderr is not None:
            process.stderr.close()

    def errors(self) -> str:
        """What tshark said on stderr, less its warning about running as root."""
        return "".join(line for line in self._stderr if "Running as user" not in line).strip()


def _tshark(path: Path, port: int, protocol: str, *options: str) -> str:
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-r", str(path), "-d", f"tcp.port=={port},{protocol}", *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed ({done.returncode}): {done.stderr}")
    return done.stdout


def decode(path: Path, port: int, protocol: str) -> list[dict[str, Any]]:
    """Every PDU of `protocol` tshark finds on `port`, in capture order; each
    with "frame" (its frame number) and "<protocol>_raw" (its bytes in hex)."""
    out = _tshark(path, port, protocol, "-Y", protocol, "-T", "json", "-x", "--no-duplicate-keys")
    pdus: list[dict[str, Any]] = []
    for packet in json.loads(out or "[]"):
        layers = packet["_source"]["layers"]
        trees, raws = layers[protocol], layers[f"{protocol}_raw"]
        # Several PDUs in one segment: with --no-duplicate-keys, a list of each.
        if isinstance(trees, dict):
            trees, raws = [trees], [raws]
        for tree, raw in zip(trees, raws, strict=True):
            pdus.append({**tree, "frame": layers["frame"]["frame.number"], f"{protocol}_raw": raw})
    return pdus


def problems(path: Path, port: int, protocol: str) -> list[str]:
    """Frames tshark finds malformed or warns about ("Trailing stray
    characters", a segment not captured...), one line each. Below warnings,
    its expert infos are TCP's chat: a SYN, a FIN."""
    out = _tshark(
        path,
        port,
        protocol,
        "-Y",
        '_ws.malformed || _ws.expert.severity >= "Warning"',
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.col.Info",
        "-e",
        "_ws.expert.message",
    )
    return [line for line in out.splitlines() if line.strip()]


def raw(tree: dict[str, Any], name: str) -> bytes:
    """A field's bytes as they were on the wire."""
    value = tree[f"{name}_raw"]
    return bytes.fromhex(value[0])


def offset(tree: dict[str, Any], name: str) -> int:
    """Where a field starts, in the frame (or the reassembled PDU)."""
    return int(tree[f"{name}_raw"][1])


def pdu_times(path: Path, port: int, protocol: str, command_id: str) -> list[float]:
    """When each PDU with this command id went over the wire, by the capture's
    own clock (the kernel's, as packets passed the interface): one time per
    PDU, several PDUs in one segment each counted."""
    field = f"{protocol}.command_id" if protocol == "smpp" else f"{protocol}.Command_Id"
    out = _tshark(
        path,
        port,
        protocol,
        *("-Y", f"{field} == {command_id}", "-T", "fields"),
        *("-e", "frame.time_epoch", "-e", field, "-E", "occurrence=a", "-E", "aggregator=;"),
    )
    times: list[float] = []
    for line in out.splitlines():
        at, _, ids = line.partition("\t")
        wanted = int(command_id, 16)
        times += [float(at)] * sum(1 for i in ids.split(";") if i and int(i, 16) == wanted)
    return times
