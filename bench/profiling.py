"""Sampling the server with py-spy (`--profile FILE`), and the top functions found.

`start_profile` attaches py-spy to the server (and its worker processes) for
one load phase and writes its raw (collapsed) output; `finish_profile` waits
for it and notes the functions most often on the GIL, or on a CPU with
`--profile-mode cpu`, by self and by total samples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from report import note
from server_process import Server

PROFILE_RATE = 200  # samples a second
# Frames every stack of a thread passes through: left out of the "total" ranking.
BOILERPLATE = (
    "threading.py",
    "typer/",
    "click/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "uvicorn/_subprocess.py",
    "uvicorn/supervisors/",
    "multiprocessing/",
    "hongyan/cli.py",
    "<module>",
    "concurrent/futures/thread.py",
    "Runner.run",
)


def start_profile(
    server: Server, out: Path, seconds: float, mode: str
) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        note("# py-spy not found: install it with .venv/bin/pip install py-spy")
        return None
    assert server.proc is not None
    argv = [py_spy, "record", "--pid", str(server.proc.pid), "--duration", str(round(seconds))]
    argv += ["--rate", str(PROFILE_RATE), "--format", "raw", "--function", "--output", str(out)]
    if mode == "gil":
        argv.append("--gil")
    if server.workers > 1:
        argv.append("--subprocesses")
    note("# " + " ".join(argv))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # py-spy attaches
    return proc


def summarise_profile(path: Path, seconds: float, mode: str, top: int = 15) -> list[str]:
    """Top functions by self and by total samples, from py-spy's raw (collapsed) output.

    In `gil` mode a sample is kept only when a thread holds the GIL, so the
    shares are of the Python-level work that serialises on it, and samples per
    process over rate x seconds is how busy that process's GIL was. A self
    share of `Runner.run` is uvloop's and httptools' native code (the event
    loop's I/O and callbacks) with the GIL held.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    per_process: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # With --subprocesses a stack starts with `process PID:"command line"` frames
        # (parent, then child), and a command line may itself hold a `;`.
        pids = re.findall(r'process (\d+):"[^"]*";?', stack)
        process = f"process {pids[-1]}" if pids else "process"
        stack = re.sub(r'process \d+:"[^"]*";?', "", stack)
        frames = [_short_frame(f) for f in stack.split(";") if f and not f.startswith("thread ")]
        if not frames:
            continue
        samples += count
        per_process[process] += count
        own[frames[-1]] += count
        for frame in set(frames):
            if not any(marker in frame for marker in BOILERPLATE):
                total[frame] += count
    if not samples:
        return ["# profile: no samples"]
    possible = PROFILE_RATE * seconds
    what = "a thread held the GIL" if mode == "gil" else "a thread was not seen idle"
    lines = [f"# profile: {samples} samples where {what}"]
    for process, n in sorted(per_process.items()):
        lines.append(f"#   {process}: {n} samples = {100 * n / possible:.0f}% of {seconds:.0f}s")
    lines.append("# top functions by self time:")
    lines += [f"#   {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("# top functions by total time (self + callees; thread roots left out):")
    lines += [f"#   {100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    return lines


def _short_frame(frame: str) -> str:
    """`write (sqlalchemy/engine/base.py:1450)` from py-spy's frame with its full path."""
    match = re.fullmatch(r"(.*) \((.*)\)", frame)
    if not match:
        return frame
    func, path = match.groups()
    for marker in ("site-packages/", "/src/", "/lib/python3.11/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


def finish_profile(
    profile: subprocess.Popen[bytes], path: Path, seconds: float, mode: str, top: int
) -> None:
    """Wait for py-spy to write its profile, and note the top functions in it."""
    try:
        profile.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profile.terminate()
        profile.wait(timeout=10)
    if path.exists():
        note(f"# profile written to {path}")
        for line in summarise_profile(path, round(seconds), mode, top):
            note(line)
    else:
        stderr = profile.stderr.read().decode() if profile.stderr else ""
        note(f"# py-spy wrote no profile: {stderr.strip()}")
