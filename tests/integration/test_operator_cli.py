"""`hongyan operator ...` as an operator runs it: each change writes exactly one
audit entry (actor: the machine's user, via cli); bad input writes none and
exits 1; `hongyan serve` with `[admin] port` serves the operator console on its
own listener and not on the customer one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from hongyan.store.schema import audit_log, operators
from tests.integration.test_access_cli import cli_with_input
from tests.integration.test_serve import Serve, cli, free_port

PASSWORD = "operator-password-1"


def audit(directory: Path) -> list[tuple[str, str, str, str, str]]:
    engine = create_engine(f"sqlite:///{directory / 'var' / 'hongyan.db'}")
    try:
        with engine.connect() as conn:
            query = select(
                audit_log.c.action,
                audit_log.c.target,
                audit_log.c.via,
                audit_log.c.before,
                audit_log.c.after,
            ).order_by(audit_log.c.id)
            return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]
    finally:
        engine.dispose()


def stored_hash(directory: Path, name: str) -> str:
    engine = create_engine(f"sqlite:///{directory / 'var' / 'hongyan.db'}")
    try:
        with engine.connect() as conn:
            query = select(operators.c.password_hash).where(operators.c.name == name)
            return str(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_each_operator_command_writes_exactly_one_audit_entry(tmp_path: Path) -> None:
    made = cli_with_input(
        tmp_path, PASSWORD + "\n", "operator", "create", "root", "--role", "admin",
        "--password-stdin",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "created operator root: role admin" in made.stdout
    made = cli_with_input(
        tmp_path, PASSWORD + "\n", "operator", "create", "sue", "--password-stdin"
    )
    assert made.returncode == 0 and "role support" in made.stdout
    entries = audit(tmp_path)
    assert [(e[0], e[1], e[2]) for e in entries] == [
        ("operator.create", "operator:root", "cli"),
        ("operator.create", "operator:sue", "cli"),
    ]
    assert json.loads(entries[1][4]) == {"role": "support"}
    assert PASSWORD not in str(entries)

    old_hash = stored_hash(tmp_path, "sue")
    steps = [
        (("operator", "role", "sue", "finance"), "operator.role", "", "changed"),
        (("operator", "disable", "sue"), "operator.disable", "", "disabled"),
        (("operator", "enable", "sue"), "operator.enable", "", "enabled"),
        (("operator", "password", "sue", "--password-stdin"), "operator.password",
         "new-password-22\n", "password set"),
    ]  # fmt: skip
    for args, action, stdin, said in steps:
        before = len(audit(tmp_path))
        done = cli_with_input(tmp_path, stdin, *args)
        assert done.returncode == 0, done.stderr
        assert said in done.stdout
        new = audit(tmp_path)[before:]
        assert [(e[0], e[1], e[2]) for e in new] == [(action, "operator:sue", "cli")]
    assert stored_hash(tmp_path, "sue") != old_hash
    assert "new-password-22" not in str(audit(tmp_path))

    listed = cli(tmp_path, "operator", "list")
    assert listed.returncode == 0
    assert "operator root: role admin, active" in listed.stdout
    assert "operator sue: role finance, active" in listed.stdout

    # Refused: bad input, unknown names, the last admin. No entries.
    before = len(audit(tmp_path))
    for args, message in [
        (("operator", "role", "sue", "owner"), "a role is one of"),
        (("operator", "disable", "nobody"), "no operator 'nobody'"),
        (("operator", "disable", "root"), "last enabled admin"),
        (("operator", "role", "root", "support"), "last enabled admin"),
    ]:
        refused = cli(tmp_path, *args)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    short = cli_with_input(tmp_path, "short\n", "operator", "create", "x", "--password-stdin")
    assert short.returncode == 1 and "characters" in short.stderr
    assert len(audit(tmp_path)) == before
    # Nothing to reset: nothing changes, and the action has its one entry all the same.
    reset = cli(tmp_path, "operator", "totp-reset", "sue")
    assert reset.returncode == 0 and "second factor off" in reset.stdout
    [entry] = audit(tmp_path)[before:]
    assert entry[0] == "operator.totp" and entry[3] == entry[4] == '{"totp": false}'


def test_serve_puts_the_operator_console_on_its_own_listener(tmp_path: Path) -> None:
    made = cli_with_input(
        tmp_path, PASSWORD + "\n", "operator", "create", "root", "--role", "admin",
        "--password-stdin",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    admin_port = free_port()
    (tmp_path / "hongyan.toml").write_text(f"[admin]\nport = {admin_port}\n")
    serve = Serve(tmp_path, "--role", "all")
    try:
        admin_url = f"http://127.0.0.1:{admin_port}"
        # Not on the customer listener at all.
        assert httpx.get(f"{serve.url}/admin/sign-in").status_code == 404
        assert httpx.get(f"{serve.url}/console/sign-in").status_code == 200
        with httpx.Client(base_url=admin_url, timeout=60) as http:
            assert http.get("/admin/sign-in").status_code == 200
            pre = http.cookies.get("hy_admin_pre", path="/admin")
            signed = http.post(
                "/admin/sign-in", data={"name": "root", "password": PASSWORD, "csrf": pre}
            )
            assert signed.status_code == 303
            assert http.get("/admin/operators").status_code == 200
    finally:
        serve.stop()
    assert serve.process.returncode == 0, serve.output()


def test_admin_off_serves_no_operator_console(tmp_path: Path) -> None:
    (tmp_path / "hongyan.toml").write_text("[admin]\nenabled = false\n")
    serve = Serve(tmp_path, "--role", "all")
    try:
        assert httpx.get(f"{serve.url}/admin/sign-in").status_code == 404
    finally:
        serve.stop()
