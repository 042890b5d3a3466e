"""Every operator command of the `hongyan` CLI leaves exactly one audit entry,
as the machine's user via the CLI, with before and after; `hongyan audit list`
shows them; a role's `Forbidden` is exit 1 with its message (issue 15 item 6).
tests/store/test_audit_actions.py checks the same actions through core."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple
from unittest.mock import ANY

import pytest
from typer.testing import CliRunner

from hongyan.cli import app
from hongyan.core.audit import CLI, Actor
from hongyan.core.roles import SUPPORT

URL = "http://127.0.0.1:9/replies"  # allowed by the settings below; never called


class Done(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def hongyan(directory: Path, *args: str, stdin: str = "") -> Done:
    """The `hongyan` command as the shell runs it, in this process (the
    README's test runs it as a subprocess): `directory` is the current one."""
    assert Path.cwd() == directory
    result = CliRunner().invoke(app, list(args), input=stdin)
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with no HONGYAN_* settings from the environment."""
    for name in [k for k in os.environ if k.startswith("HONGYAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def audit_rows(directory: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(directory / "var" / "hongyan.db") as db:
        return db.execute(
            "SELECT actor, via, address, action, target, before, after, note "
            "FROM audit_log ORDER BY id"
        ).fetchall()


def loaded(text: str) -> Any:
    return json.loads(text) if text else None


# (command, stdin, action, target, before, after, note)
COMMANDS: list[tuple[tuple[str, ...], str, str, str, Any, Any, str]] = [
    (("account", "create", "acme", "--password-stdin", "--balance", "10"), "s3cret-1\n",
     "account.create", "account:acme", None,
     {"balance": 10, "ext_code": "0001", "rate_limit": ANY, "per_number": ANY}, ""),
    (("account", "topup", "acme", "5000", "--note", "bank transfer 2026-03"), "",
     "account.topup", "account:acme", {"balance": 10}, {"balance": 5010, "amount": 5000},
     "bank transfer 2026-03"),
    (("account", "deduct", "acme", "200", "--note", "test sends"), "",
     "account.deduct", "account:acme", {"balance": 5010}, {"balance": 4810, "amount": 200},
     "test sends"),
    (("account", "freeze", "acme"), "", "account.freeze", "account:acme",
     {"frozen": False}, {"frozen": True}, ""),
    (("account", "unfreeze", "acme"), "", "account.unfreeze", "account:acme",
     {"frozen": True}, {"frozen": False}, ""),
    (("account", "api-send", "acme", "off"), "", "account.api_send", "account:acme",
     {"api_send": True}, {"api_send": False}, ""),
    (("account", "refund", "acme", "on"), "", "account.refund", "account:acme",
     {"refund_on_failure": False}, {"refund_on_failure": True}, ""),
    (("account", "limits", "acme", "--rate", "50", "--per-number", "1/30s,5/h"), "",
     "account.limits", "account:acme", {"rate_limit": ANY, "per_number": ANY},
     {"rate_limit": 50, "per_number": "1/30s,5/h"}, ""),
    (("account", "extension", "acme", "4321"), "", "account.extension", "account:acme",
     {"ext_code": "0001"}, {"ext_code": "4321"}, ""),
    (("account", "dialect", "acme", "legacy"), "", "account.dialect", "account:acme",
     {"dialect": "standard", "bare_md5": False}, {"dialect": "legacy", "bare_md5": False}, ""),
    (("account", "bare-md5", "acme", "on", "--password-stdin"), "s3cret-1\n",
     "account.bare_md5", "account:acme", {"bare_md5": False}, {"bare_md5": True}, ""),
    (("account", "push", "acme", "--replies", URL), "", "account.push", "account:acme",
     {"replies_url": ""}, {"replies_url": URL}, ""),
    (("account", "push", "acme", "--off"), "", "account.push", "account:acme",
     {"replies_url": URL, "reports_url": ""}, {"replies_url": "", "reports_url": ""}, ""),
    (("account", "bind-ip", "acme", "203.0.113.0/24"), "", "account.bind", "account:acme",
     {"networks": []}, {"networks": ["203.0.113.0/24"]}, ""),
    (("account", "unbind-ip", "acme", "203.0.113.0/24"), "", "account.unbind", "account:acme",
     {"networks": ["203.0.113.0/24"]}, {"networks": []}, ""),
    (("account", "unlock", "acme"), "", "account.unlock", "account:acme",
     {"locked": []}, {"locked": []}, ""),
    (("secret", "rotate"), "", "account.rekey", "system:server_keys",
     {"current": 1, "versions": [1]}, {"current": 2, "versions": [1, 2]}, ""),
    # Moves acme's digests to key 2, so key 1 can be retired.
    (("account", "password", "acme", "--password-stdin"), "n3w-s3cret\n",
     "account.password", "account:acme", None, {"password changed": True}, ""),
    (("secret", "retire", "1"), "", "account.rekey", "system:server_keys",
     {"current": 2, "versions": [1, 2]}, {"current": 2, "versions": [2]}, ""),
    (("ops", "pause"), "", "system.switch", "system:paused", {"paused": False},
     {"paused": True}, ""),
    (("ops", "resume"), "", "system.switch", "system:paused", {"paused": True},
     {"paused": False}, ""),
    (("ops", "maintenance", "on"), "", "system.switch", "system:maintenance",
     {"maintenance": False}, {"maintenance": True}, ""),
    (("keywords", "add", "赌博"), "", "keyword.add", "keyword:赌博", {"blocked": False},
     {"blocked": True}, ""),
    (("keywords", "remove", "赌博"), "", "keyword.remove", "keyword:赌博", {"blocked": True},
     {"blocked": False}, ""),
    (("mo", "inject", "--from", "13900008888", "--uid", "acme", "--mid", "12", "--text", "TD"),
     "", "mo.inject", "account:acme", None,
     {"mobile": "13900008888", "gateway": "10690432112"}, ""),
]  # fmt: skip


def test_each_command_writes_one_entry_and_audit_list_shows_them(project: Path) -> None:
    tmp_path = project
    (tmp_path / "hongyan.toml").write_text('[push]\nallowed_networks = ["127.0.0.1/32"]\n')
    me = getpass.getuser()
    for args, stdin, action, target, before, after, note in COMMANDS:
        earlier = audit_rows(tmp_path) if (tmp_path / "var" / "hongyan.db").exists() else []
        done = hongyan(tmp_path, *args, stdin=stdin)
        assert done.returncode == 0, (args, done.stderr)
        rows = audit_rows(tmp_path)
        assert rows[: len(earlier)] == earlier and len(rows) == len(earlier) + 1, args
        entry = rows[-1]
        assert entry[:5] == (me, "cli", "local", action, target), args
        assert (loaded(entry[5]), loaded(entry[6]), entry[7]) == (before, after, note), args
        for secret in ("s3cret-1", "n3w-s3cret"):
            assert secret not in repr(entry)

    # Refused: exit 1 with the reason, no entry.
    count = len(audit_rows(tmp_path))
    for args, message in [
        (("account", "topup", "acme", "5", "--note", " "), "give a note"),
        (("account", "deduct", "acme", "999999", "--note", "all"), "cannot deduct 999999"),
        (("account", "extension", "acme", "x1"), "an extension code is 1 to"),
        (("keywords", "remove", "never"), "no keyword"),
    ]:
        refused = hongyan(tmp_path, *args)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)
    missing = hongyan(tmp_path, "account", "deduct", "acme", "5")
    assert missing.returncode != 0 and "--note" in missing.stderr
    assert len(audit_rows(tmp_path)) == count

    listed = hongyan(tmp_path, "audit", "list", "--target", "account:acme", "--limit", "3")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert f" {me} via cli from local: mo.inject account:acme - -> " in lines[0]
    assert lines[1].endswith('account.password account:acme - -> {"password changed": true}')
    assert lines[2].endswith('account.unlock account:acme {"locked": []} -> {"locked": []}')
    topups = hongyan(tmp_path, "audit", "list", "--action", "account.topup")
    assert topups.stdout.strip().endswith(
        'account.topup account:acme {"balance": 10} -> {"amount": 5000, "balance": 5010} '
        "(bank transfer 2026-03)"
    )
    nobody = hongyan(tmp_path, "audit", "list", "--actor", "nobody")
    assert nobody.stdout.strip() == "no audit entries"


def test_a_role_without_the_action_exits_1_with_its_message(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI acts as admin; were its actor another role, `Forbidden` is exit 1."""
    support = Actor(name="sam", role=SUPPORT, via=CLI, address="local")
    monkeypatch.setattr(Actor, "cli", classmethod(lambda cls: support))
    result = hongyan(project, "account", "topup", "acme", "5", "--note", "n")
    assert result.returncode == 1
    assert result.stderr == "error: the support role does not allow account.topup\n"
    assert audit_rows(project) == []
