from pathlib import Path

import pytest

from hongyan.config import load_settings
from hongyan.errors import ConfigError


def test_defaults_put_sqlite_and_a_kept_secret_under_var(tmp_path: Path) -> None:
    settings = load_settings(None, var_dir=tmp_path / "var")
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'hongyan.db'}"
    assert len(settings.secret) == 64
    again = load_settings(None, var_dir=tmp_path / "var")
    assert again.secret == settings.secret  # generated once, then kept
    assert (tmp_path / "var" / "secret").stat().st_mode & 0o077 == 0
    assert settings.secret not in repr(settings)


def test_env_overrides_toml_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hongyan.toml"
    config.write_text('port = 9000\nmax_content_chars = 300\nsecret = "s"\n')
    monkeypatch.setenv("HONGYAN_PORT", "9100")
    monkeypatch.setenv("HONGYAN_DATABASE_URL", "postgresql+asyncpg://db/x")
    settings = load_settings(config)
    assert (settings.port, settings.max_content_chars) == (9100, 300)
    assert settings.database_url == "postgresql+asyncpg://db/x"
    assert not settings.is_sqlite


def test_bad_settings_are_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError):
        load_settings(config)
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError):
        load_settings(None, var_dir=tmp_path, sqlite_synchronous="sometimes")


@pytest.mark.parametrize(
    "override",
    [
        {"retry_base_s": 0},
        {"retry_max_s": -1},
        {"lease_s": 0},
        {"dispatch_batch": 0},
        {"message_ttl_s": 0},
        {"push": {"retry_base_s": 0}},
        {"push": {"give_up_s": -5}},
    ],
)
def test_delays_and_sizes_that_would_spin_or_stall_are_config_errors(
    tmp_path: Path, override: dict[str, object]
) -> None:
    with pytest.raises(ConfigError):
        load_settings(None, var_dir=tmp_path, **override)


@pytest.mark.parametrize(
    "override",
    [
        {"http": {"metrics_allow": ["10.0.0.0/8", "intranet"]}},
        {"push": {"allowed_networks": ["x"]}},
    ],
)
def test_an_address_range_that_is_none_is_a_config_error_naming_the_setting(
    tmp_path: Path, override: dict[str, object]
) -> None:
    with pytest.raises(ConfigError, match=r"metrics_allow|allowed_networks"):
        load_settings(None, var_dir=tmp_path, **override)
