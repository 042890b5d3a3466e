"""How the bench reports: figures on stdout, notes on stderr.

A figure is one stdout line `name value` (`mt_get_c64_rps 5321`), prefixed
with `w2_` and the like when several worker counts are run; the lines
describing the machine also go to stdout, as `#` comments. Everything else
(progress, warnings, targets met or not, profiles) is a note, on stderr.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# The targets of issue 13, while delivering: figure name -> (comparison, value).
TARGETS = {
    "mt_get_c1_p50_ms": ("<=", 1),
    "mt_get_c1_p99_ms": ("<=", 3),
    "mt_get_c64_rps": (">=", 8000),
    "mt_get_c64_p99_ms": ("<", 20),
    "mt_post2000_msgs_per_s": (">=", 150_000),
}

Value = float | int | str


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Figures:
    """The figures of one run (one worker count), printed as they come."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.values: dict[str, Value] = {}

    def add(self, name: str, value: Value) -> None:
        self.values[name] = value
        if isinstance(value, float):
            text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.2f}"
        else:
            text = str(value)
        print(f"{self.prefix}{name} {text}", flush=True)

    def note_targets(self, phase: str) -> None:
        """A note per target among the phase's figures: met or not."""
        for key, (op, target) in TARGETS.items():
            figure = self.values.get(key)
            if key.startswith(phase + "_") and isinstance(figure, float):
                met = {">=": figure >= target, "<=": figure <= target, "<": figure < target}[op]
                note(f"# {key} {figure:.1f} target {op} {target}: {'met' if met else 'NOT met'}")


def machine() -> Iterator[str]:
    """Comment lines saying what the figures were measured on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    yield f"# machine: nproc {os.cpu_count()}, {model}, Linux {platform.release()}"
    yield f"# python {platform.python_version()} ({sys.executable})"
    repo = Path(__file__).resolve().parent.parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if head:
            yield f"# hongyan at {head}{' with uncommitted changes in src/' if dirty else ''}"
    try:
        import uvloop

        yield f"# client loop: uvloop {uvloop.__version__}"
    except ImportError:
        yield "# client loop: asyncio (uvloop not installed)"
