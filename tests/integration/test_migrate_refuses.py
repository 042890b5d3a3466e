"""`hongyan migrate` and `hongyan serve` stop with a clear message, exit 1 and
no stack trace, while two accounts' extension codes collide (migration 0007)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hongyan.store.migrate import upgrade
from tests.integration.test_serve import HONGYAN, cli_env, free_port
from tests.store.test_migration_0007 import BEFORE, _accounts


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--host", "127.0.0.1", "--port"]])
def test_colliding_codes_stop_the_command_with_their_names(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hongyan.db'}"
    asyncio.run(upgrade(url, BEFORE))
    asyncio.run(_accounts(url, {"acme": "1000", "zeta": "10000"}))
    if command[0] == "serve":
        command = [*command, str(free_port())]
    result = subprocess.run(
        [*HONGYAN, *command],
        cwd=tmp_path,
        env={**cli_env(), "HONGYAN_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: migration failed: 1 pair(s) of accounts have extension codes" in result.stderr
    assert "'acme' (1000) begins 'zeta' (10000)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
