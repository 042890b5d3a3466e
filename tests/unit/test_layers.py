"""Which layer may import which (DESIGN.md "Layout", STYLE.md 3): the rules
live in core/, and the store, the channels and the settings do not reach
into one another, so a new entry point or channel reuses a rule instead of
restating it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hongyan

SRC = Path(hongyan.__file__).parent
PURE_RULES = [
    "numbers",
    "content",
    "schedule",
    "limits",
    "credentials",
    "acceptance",
    "send_checks",
    "extensions",
    "lockout",
    "finals",
    "fragments",
    "retry",
    "states",
    "models",
    "records",
]


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def offending(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for path in sorted((SRC / package).rglob("*.py")):
        hits = sorted(m for m in imports_of(path) if m.startswith(forbidden))
        if hits:
            bad[str(path.relative_to(SRC))] = hits
    return bad


def test_the_store_depends_on_core_not_on_channels_protocols_or_entry_points() -> None:
    forbidden = ("hongyan.channels", "hongyan.api", "hongyan.dispatch", "hongyan.protocol")
    assert offending("store", forbidden) == {}


def test_channels_do_not_reach_into_the_store() -> None:
    assert offending("channels", ("hongyan.store", "hongyan.dispatch", "hongyan.api")) == {}


def test_the_rules_in_core_do_no_io() -> None:
    forbidden = ("hongyan.store", "sqlalchemy", "asyncio", "httpx", "aiohttp", "hongyan.channels")
    bad = {}
    for name in PURE_RULES:
        hits = sorted(m for m in imports_of(SRC / "core" / f"{name}.py") if m.startswith(forbidden))
        if hits:
            bad[name] = hits
    assert bad == {}


def test_reading_the_settings_loads_no_store() -> None:
    probe = (
        "import sys, hongyan.config; "
        "print(sorted(m for m in sys.modules if m.startswith(('hongyan.store', 'sqlalchemy'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_migrations_are_frozen_and_import_no_live_rule() -> None:
    """A migration runs as written when it was made, years later too: a rule it
    needs is copied into it, since the one in core/ may change."""
    assert offending("store/migrations/versions", ("hongyan.core", "hongyan.store")) == {}


def bare_states(path: Path, values: set[str]) -> list[str]:
    """Where a state or status of core/states.py is compared with, or set to,
    as a bare string instead of its enum member."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.keyword)):
            operands = [node.value] if node.value is not None else []
        else:
            continue
        for operand in operands:
            # `state in ("queued", "sent")`; a set of a protocol's own words that
            # happen to match (SMPP receipts' "EXPIRED") is not ours.
            many = isinstance(node, ast.Compare) and isinstance(operand, (ast.Tuple, ast.Set))
            items = operand.elts if many else [operand]
            found += [
                f"{item.lineno}: {item.value!r}"
                for item in items
                if isinstance(item, ast.Constant) and item.value in values
            ]
    return found


def test_states_and_statuses_are_named_by_their_enums_outside_core_states() -> None:
    """One enum each (issue 11, item 17): `state == "queued"` elsewhere would go on
    compiling when the enum's value changes. The SDK (client/) is shipped apart and
    keeps its own words; a migration is frozen."""
    from enum import StrEnum

    from hongyan.core import states

    enums = [e for e in vars(states).values() if isinstance(e, type) and issubclass(e, StrEnum)]
    values = {member.value for enum in enums if enum is not StrEnum for member in enum}
    bad = {}
    for path in sorted(SRC.rglob("*.py")):
        name = str(path.relative_to(SRC))
        if name == "core/states.py" or name.startswith(("client/", "store/migrations/")):
            continue
        if hits := bare_states(path, values):
            bad[name] = hits
    assert bad == {}
