"""The demo banner of `hongyan serve` says what answers 110 from the demo
account's own per-number limit, not from a default written into the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from hongyan.cli.server import _print_demo
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("per_number", "said"),
    [
        ("1/30s,5/h,10/d", "the same number again within 30 s answers 110"),
        ("2/m,5/h", "the same number more than 2 times within 60 s answers 110"),
        ("1/h", "the same number again within 3600 s answers 110"),
    ],
)
def test_the_banner_states_the_accounts_own_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], per_number: str, said: str
) -> None:
    _print_demo(make_settings(tmp_path), "demo", "pw", 100, per_number)
    out = capsys.readouterr().out
    assert said in out and per_number in out
    assert "hongyan account limits demo --per-number off lifts it" in out


def test_no_limit_no_word_of_110(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _print_demo(make_settings(tmp_path), "demo", "pw", 100, "off")
    assert "110" not in capsys.readouterr().out


def test_the_banner_leads_to_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, port=9123)
    _print_demo(settings, "demo", "pw", 100, "off")
    assert "Web console: http://127.0.0.1:9123/console/" in capsys.readouterr().out
