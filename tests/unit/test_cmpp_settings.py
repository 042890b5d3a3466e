"""A cmpp channel's settings: the README's example is valid as written, and
the shared secret never shows in a repr or a settings error."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.config import Settings, load_settings
from hongyan.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_cmpp_block() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if 'kind = "cmpp"' in b]
    return block


def test_the_readme_example_is_a_valid_channel() -> None:
    settings = Settings(**tomllib.loads(readme_cmpp_block()))
    (channel,) = settings.channels
    assert isinstance(channel, CmppSettings)
    assert (channel.sp_id, channel.version, channel.window, channel.port) == (
        "901234",
        "3.0",
        16,
        7890,
    )


def test_the_secret_stays_out_of_reprs_and_errors(tmp_path: Path) -> None:
    channel = CmppSettings(name="c", sp_id="901234", secret="TopSecret77")
    assert "TopSecret77" not in repr(channel)
    config = tmp_path / "hongyan.toml"
    config.write_text(
        '[[channels]]\nkind = "cmpp"\nname = "c"\nsp_id = "far too long"\nsecret = "TopSecret77"\n'
    )
    with pytest.raises(ConfigError) as failure:
        load_settings(config)
    assert "sp_id" in str(failure.value) and "TopSecret77" not in str(failure.value)
