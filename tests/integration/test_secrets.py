"""Secrets on the operator's side (issue 11 item 6): what `ps`, /proc, other
users of the machine and error messages can see of them."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from hongyan.config import Settings
from hongyan.store.engine import create_engine
from hongyan.store.migrate import upgrade
from hongyan.store.schema import keywords
from tests.integration.test_serve import HONGYAN, Serve, cli, cli_env, demo_credentials


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _typed(directory: Path, typed: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with `typed` on its stdin, as a prompt or a pipe would give it."""
    return subprocess.run(
        [*HONGYAN, *args],
        input=typed,
        cwd=directory,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_worker_processes_are_not_handed_the_secret_in_their_environment(tmp_path: Path) -> None:
    serve = Serve(tmp_path, "--demo", "--workers", "2")
    try:
        secret = (tmp_path / "var" / "secret").read_text().strip()
        workers = [p for p in _children(serve.process.pid) if p != serve.process.pid]
        assert workers, "serve --workers 2 started no worker process"
        for pid in [serve.process.pid, *workers]:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert secret.encode() not in environ, f"the secret is in the environment of {pid}"
            # Nor on a command line, which `ps` shows to every user of the machine.
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            assert secret.encode() not in cmdline, f"the secret is on the command line of {pid}"
        # And the workers did get the same secret another way: the demo's pwd works.
        uid, pwd = demo_credentials(serve.output())
        for _ in range(4):
            answer = httpx.get(f"{serve.url}/mm/", params={"uid": uid, "pwd": pwd}).text
            assert answer.startswith("sms&stat=100&remain=")
    finally:
        serve.stop()


def test_state_directory_secret_and_database_are_their_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert cli(tmp_path, "migrate").returncode == 0
        assert cli(tmp_path, "account", "create", "a", "--password", "pw").returncode == 0
    finally:
        os.umask(old)
    var = tmp_path / "var"
    assert _mode(var) == 0o700
    assert _mode(var / "secret") == 0o600
    database_files = sorted(var.glob("hongyan.db*"))
    assert var / "hongyan.db" in database_files
    for path in database_files:  # -wal and -shm too, when they are there
        assert _mode(path) == 0o600, path


def test_an_older_more_open_state_directory_is_tightened(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "hongyan.db").touch()
    (var / "hongyan.db").chmod(0o644)
    assert cli(tmp_path, "migrate").returncode == 0
    assert _mode(var) == 0o700
    assert _mode(var / "hongyan.db") == 0o600


def test_account_create_reads_the_password_from_stdin_or_a_prompt(tmp_path: Path) -> None:
    piped = _typed(tmp_path, "from stdin\n", "account", "create", "alice", "--password-stdin")
    assert piped.returncode == 0, piped.stderr
    prompted = _typed(tmp_path, "typed\ntyped\n", "account", "create", "bob")
    assert prompted.returncode == 0, prompted.stderr
    assert "typed" not in prompted.stdout + prompted.stderr  # the prompt does not echo it
    both = cli(tmp_path, "account", "create", "carol", "--password", "x", "--password-stdin")
    assert both.returncode == 1 and "not both" in both.stderr

    serve = Serve(tmp_path)
    try:
        from hongyan.core.credentials import api_password

        for uid, password in (("alice", "from stdin"), ("bob", "typed")):
            pwd = api_password(password, uid)
            answer = httpx.get(f"{serve.url}/mm/", params={"uid": uid, "pwd": pwd}).text
            assert answer == "sms&stat=100&remain=0", (uid, answer)
    finally:
        serve.stop()


def test_settings_errors_name_the_setting_never_its_value(tmp_path: Path) -> None:
    (tmp_path / "hongyan.toml").write_text(
        '[[channels]]\nkind = "smpp"\nname = "carrier"\npassword = "hunter2-carrier"\n'
        'system_id = "sp"\nport = "not a port"\n'
    )
    result = cli(tmp_path, "migrate")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "invalid settings" in output and "channels.0.smpp.port" in output
    for value in ("hunter2-carrier", "not a port"):
        assert value not in output, output
    assert "Traceback" not in output


async def test_database_errors_carry_no_statement_parameters(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/h.db")
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url, for_writes=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(keywords).values(word="digest-like-value", created_at=1))
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as conn:
                await conn.execute(insert(keywords).values(word="digest-like-value", created_at=2))
    finally:
        await engine.dispose()
    assert "digest-like-value" not in str(raised.value)


def test_a_push_signing_key_can_be_given_on_stdin(tmp_path: Path) -> None:
    assert cli(tmp_path, "account", "create", "acme", "--password", "pw").returncode == 0
    push = ("account", "push", "acme", "--reports", "https://1.1.1.1/r", "--secret-stdin")
    result = _typed(tmp_path, "a-signing-key-of-some-length\n", *push)
    assert result.returncode == 0, result.stderr
    assert "signed" in result.stdout and "a-signing-key" not in result.stdout


def test_a_database_elsewhere_leaves_its_directory_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2775)
    env = {**cli_env(), "HONGYAN_DATABASE_URL": f"sqlite+aiosqlite:///{shared}/h.db"}
    done = subprocess.run(
        [*HONGYAN, "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
    assert _mode(shared / "h.db") == 0o600
