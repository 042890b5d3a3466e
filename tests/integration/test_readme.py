"""The README runs as written (issue 11 item 15).

Its `sh` and `python` blocks are pasted, in order, into one shell in a fresh
project directory while `hongyan serve --demo` runs there (what `make run`
starts), against that live server; only the port differs, since tests pick
free ports. Each command must succeed, and where the README shows what a
command prints (comment lines right under it), the output must read the same,
but for times, dates and generated ids, and for the order of lines (reports
come in the order carriers answer). A block the test cannot run says why, in
an HTML comment before it: `<!-- readme: not run: why -->`.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import service_missing
from tests.integration.test_serve import Serve, cli_env

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_PORT = "127.0.0.1:8080"
_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*readme:\s*(.*?)\s*-->\s*$")
_MARK = "\x1e"  # ends a command's output in the shell's stream
BOUND_S = 60.0  # a generous bound on one command, and on delivery settling


@dataclass
class Command:
    text: str
    line: int
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    lang: str
    line: int
    text: str
    directive: str

    def commands(self) -> list[Command]:
        """Shell commands (a trailing backslash continues one), each with the
        comment lines right under it: what it prints."""
        commands: list[Command] = []
        pending = ""
        after_command = False
        for offset, raw in enumerate(self.text.splitlines()):
            line = raw.rstrip()
            stripped = line.strip()
            if pending:
                pending += "\n" + line
                if not line.endswith("\\"):
                    commands.append(Command(pending, self.line + offset))
                    pending, after_command = "", True
                continue
            if not stripped:
                after_command = False
            elif stripped.startswith("#"):
                if after_command:
                    commands[-1].expected.append(stripped[1:].strip())
            elif line.endswith("\\"):
                pending = line
            else:
                commands.append(Command(line, self.line + offset + 1))
                after_command = True
        assert not pending, f"README line {self.line}: a command ends with a backslash"
        return commands


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        directive = _DIRECTIVE.match(previous.strip())
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        blocks.append(
            Block(
                fence.group(1),
                i + 1,
                "\n".join(lines[i + 1 : end]),
                directive.group(1) if directive else "",
            )
        )
        i = end + 1
    return blocks


_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID = re.compile(r"\d{13,}")


def shape(lines: list[str]) -> list[str]:
    """Lines as compared: times, dates and generated ids (13+ digits: a number
    and epoch milliseconds) stand for any; order does not matter."""
    out = []
    for line in lines:
        line = _ID.sub("<id>", _DATE.sub("<date>", _TIME.sub("<time>", line.rstrip())))
        if line:
            out.append(line)
    return sorted(out)


class Shell:
    """One bash, fed one command at a time, as a terminal would be."""

    def __init__(self, directory: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=directory,
            env={**cli_env(), "LC_ALL": "C.UTF-8"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def run(self, command: str) -> tuple[int, str]:
        """Exit status and output (stdout and stderr) of one command; stdin is
        closed to it, so nothing it runs can read the commands that follow."""
        assert self.process.stdin is not None and self.process.stdout is not None
        script = f"{{ {command}\n}} </dev/null 2>&1; printf '\\n{_MARK}%s{_MARK}\\n' $?\n"
        self.process.stdin.write(script.encode())
        self.process.stdin.flush()
        output = b""
        deadline = time.monotonic() + BOUND_S
        end = re.compile(rb"\n" + _MARK.encode() + rb"(\d+)" + _MARK.encode() + rb"\n$")
        while (found := end.search(output)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no end to {command!r} within {BOUND_S} s:\n{output.decode()}")
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    pytest.fail(f"the shell ended during {command!r}:\n{output.decode()}")
                output += chunk
        return int(found.group(1)), output[: found.start()].decode("utf-8", "replace")

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=BOUND_S)
        self.process.stdout.close()


def settle(directory: Path) -> None:
    """Wait until every message that is due has its final state (the simulated
    carrier answers within 2 s), as a reader of the README would wait."""
    database = directory / "var" / "hongyan.db"
    deadline = time.monotonic() + BOUND_S
    while True:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            (waiting,) = conn.execute(
                "SELECT count(*) FROM messages WHERE state IN ('queued', 'sent') AND due_at <= ?",
                (int(time.time() * 1000),),
            ).fetchone()
        if waiting == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{waiting} messages still waiting for delivery after {BOUND_S} s")
        time.sleep(0.1)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Serve]]:
    """A project directory as `make run` leaves it: .venv, var/, the server."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("the README's commands use .venv: run the tests from a virtual environment")
    missing = [tool for tool in ("curl", "iconv", "md5sum") if shutil.which(tool) is None]
    if missing:
        service_missing(f"the README's commands need {', '.join(missing)} (apt-get install curl)")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    serve = Serve(tmp_path, "--demo", "--host", "127.0.0.1")
    yield tmp_path, serve
    serve.stop()


def test_every_block_the_readme_does_not_run_says_why() -> None:
    blocks = [b for b in readme_blocks(README.read_text()) if b.lang in ("sh", "python")]
    skipped = [b for b in blocks if b.directive]
    assert blocks and len(skipped) < len(blocks) / 2, "most of the README must run"
    for block in skipped:
        reason = block.directive.removeprefix("not run:").strip()
        assert block.directive.startswith("not run:") and len(reason) > 20, (
            f"README line {block.line}: say why the block is not run"
        )


def test_the_readme_walkthrough_runs_as_written(project: tuple[Path, Serve]) -> None:
    directory, serve = project
    here = serve.url.removeprefix("http://")
    shell = Shell(directory)
    ran = 0
    try:
        for block in readme_blocks(README.read_text()):
            if block.directive or block.lang not in ("sh", "python"):
                continue
            settle(directory)
            if block.lang == "python":
                script = block.text.replace(DOCUMENTED_PORT, here)
                done = subprocess.run(
                    [sys.executable, "-c", script],
                    cwd=directory,
                    env=cli_env(),
                    capture_output=True,
                    text=True,
                    timeout=BOUND_S,
                )
                assert done.returncode == 0, f"README line {block.line}:\n{done.stderr}"
                ran += 1
                continue
            for command in block.commands():
                settle(directory)
                status, output = shell.run(command.text.replace(DOCUMENTED_PORT, here))
                where = f"README line {command.line}: {command.text}\n{output}"
                expects_failure = any("(exit 1)" in line for line in [command.text])
                assert status == (1 if expects_failure else 0), where
                if command.expected:
                    assert shape(output.splitlines()) == shape(command.expected), where
                ran += 1
    finally:
        shell.close()
    assert ran > 20
