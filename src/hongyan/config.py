"""Settings: one frozen typed object, read once at start-up and passed down.

Sources, strongest first: values given by the caller (CLI flags), environment
variables `HONGYAN_<NAME>` (nested with `__`), the TOML file (`--config`, or
`./hongyan.toml` when present), then the defaults below.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hongyan.admin.settings import AdminSettings
from hongyan.api.limits import HttpSettings
from hongyan.channels.cmpp.settings import CmppSettings
from hongyan.channels.simulator import SimulatorSettings
from hongyan.channels.smpp.settings import SmppSettings
from hongyan.console.settings import ConsoleSettings
from hongyan.dispatch.routing import RouteSettings
from hongyan.errors import ConfigError
from hongyan.paths import private_directory
from hongyan.push.policy import PushSettings

DEFAULT_CONFIG_FILE = Path("hongyan.toml")


def _channel_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "simulator"))
    return str(getattr(value, "kind", "simulator"))


# `[[channels]]` entries: `kind = "smpp"` or `"cmpp"`, or a simulator when no kind is given.
ChannelSettings = Annotated[
    Annotated[SimulatorSettings, Tag("simulator")]
    | Annotated[SmppSettings, Tag("smpp")]
    | Annotated[CmppSettings, Tag("cmpp")],
    Discriminator(_channel_kind),
]
_toml_file: ContextVar[Path | None] = ContextVar("_toml_file", default=None)


class Role(StrEnum):
    """What one process of the platform runs (`hongyan serve --role`)."""

    ALL = "all"  # the customer API and console, and delivery: one process does all
    API = "api"  # the customer API and console; delivery is another process's
    WORKER = "worker"  # delivery: channels, dispatcher, housekeeping, push; no HTTP


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HONGYAN_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    # Where state lives.
    var_dir: Path = Path("var")
    database_url: str = ""
    secret: str = Field(default="", repr=False)
    sqlite_synchronous: str = "FULL"
    # PostgreSQL: how long a write transaction of the platform may sit idle
    # (its process stalled or frozen) before the server ends it and frees its
    # locks, and how long one of its statements waits for another's lock.
    pg_idle_in_transaction_ms: int = Field(default=500, ge=0)
    pg_lock_timeout_ms: int = Field(default=5000, ge=0)
    # Prepared statements kept per connection; 0 behind PgBouncer in
    # transaction mode (README, "PostgreSQL").
    pg_statement_cache_size: int = Field(default=100, ge=0)
    # Where workers LISTEN for new work (store/wakeups.py); default: database_url.
    # Behind PgBouncer in transaction mode, the server itself.
    pg_listen_url: str = Field(default="", repr=False)

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    trusted_proxies: tuple[str, ...] = ()
    access_log: bool = True
    log_level: str = "INFO"
    # Bounds on what HTTP clients control, and who may read /metrics (api/limits.py).
    http: HttpSettings = HttpSettings()

    # Protocol limits (PROTOCOL.md "/mt/ send").
    timezone: str = "Asia/Shanghai"
    max_numbers_get: int = 50
    max_numbers_post: int = 2000
    max_content_chars: int = 500
    max_schedule_days: int = 30
    default_rate: int | None = 20
    default_per_number: str = "1/30s,5/h,10/d"
    records_page_size: int = 50
    reports_per_call: int = 500

    # Account gates (PROTOCOL.md "Authentication and account gates").
    lockout_failures: int = 5
    lockout_window_s: int = 600
    lockout_duration_s: int = 600
    max_bound_addresses: int = 10

    # The platform's gateway number: replies to prefix + extension code + mid
    # belong to the account with that extension code (spec §6.1 example).
    gateway_prefix: str = "10690"
    replies_per_call: int = 500
    # A long reply whose parts have not all come within this long is recorded
    # with the parts that did: they were acknowledged upstream, so they are
    # never dropped (Kannel's sms-combine-concatenated-mo-timeout).
    reply_parts_wait_s: float = Field(default=300.0, gt=0)
    # Receipts for ids no part has (its submit outcome was lost in a crash, so
    # the part went again under another id) are kept this long.
    early_receipts_keep_s: float = Field(default=86_400.0, gt=0)
    housekeeping_s: float = Field(default=10.0, gt=0)
    # History kept: messages final (their reports handed out or waiting as
    # long), and replies, older than this are deleted (store/retention.py); 0 keeps all.
    retention_days: float = Field(default=180.0, ge=0)
    # PostgreSQL: history is partitioned by time, this many days a partition
    # (core/partitions.py); a row stays up to this long past retention_days.
    partition_days: int = Field(default=7, ge=1, le=366)

    # Delivery (dispatch/): claim, submit, retry, expire.
    run_dispatcher: bool = True
    dispatch_batch: int = Field(default=500, ge=1)
    dispatch_poll_s: float = Field(default=0.25, gt=0)
    lease_s: float = Field(default=30.0, gt=0)
    # How long a worker node holds a channel without renewing (dispatch/
    # ownership.py): a node that dies or stalls loses its channels after this.
    channel_lease_s: float = Field(default=15.0, gt=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_max_s: float = Field(default=60.0, gt=0)
    message_ttl_s: float = Field(default=86_400.0, gt=0)
    # The embedded simulated carrier, more simulated channels, and the routes
    # over them; a message no route matches goes to `fallback_channel`.
    simulator: SimulatorSettings = SimulatorSettings()
    channels: tuple[ChannelSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()
    fallback_channel: str = ""
    fallback_failover: tuple[str, ...] = ()

    # Push of reports and replies to customers' servers (push/).
    push: PushSettings = PushSettings()

    # The web console (console/).
    console: ConsoleSettings = ConsoleSettings()
    # The operator console (admin/): /admin/, or a listener of its own.
    admin: AdminSettings = AdminSettings()

    # How often a running server picks up operator changes made elsewhere.
    reload_interval_s: float = 0.5
    # The most write requests one group commit carries.
    commit_batch_max: int = 256

    @field_validator("sqlite_synchronous")
    @classmethod
    def _synchronous(cls, value: str) -> str:
        value = value.upper()
        if value not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = _toml_file.get()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _routes_name_channels(self) -> Settings:
        names = [self.simulator.name, *(c.name for c in self.channels)]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must differ: {names}")
        targets = [r.channel for r in self.routes] + [self.fallback_channel]
        targets += [name for r in self.routes for name in r.failover] + list(self.fallback_failover)
        for target in targets:
            if target and target not in names:
                raise ValueError(f"no channel named {target!r} (channels: {names})")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings once: explicit overrides, env, TOML file, defaults.

    Fills in what has a derived default: the SQLite file under `var_dir`, and
    the server secret (generated once and kept in `var_dir/secret`).
    """
    if config_file is None and DEFAULT_CONFIG_FILE.exists():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None and not config_file.exists():
        raise ConfigError(f"config file not found: {config_file}")
    token = _toml_file.set(config_file)
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {describe_errors(exc)}") from None
    except Exception as exc:  # a TOML syntax error: its text names a line, not a value
        raise ConfigError(f"invalid settings: {exc}") from None
    finally:
        _toml_file.reset(token)
    return _complete(settings)


def describe_errors(exc: ValidationError) -> str:
    """Where each error is and what is wrong, never the value given: a
    setting may be a password or a secret (pydantic's own text echoes the
    input, a whole `[[channels]]` table with its password included)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


def _complete(settings: Settings) -> Settings:
    updates: dict[str, Any] = {}
    if not settings.database_url:
        private_directory(settings.var_dir)
        updates["database_url"] = f"sqlite+aiosqlite:///{settings.var_dir / 'hongyan.db'}"
    if not settings.secret:
        updates["secret"] = _kept_secret(settings.var_dir)
    return settings.model_copy(update=updates) if updates else settings


def _kept_secret(var_dir: Path) -> str:
    """The server secret generated on first use and kept beside the database.

    Written whole to a private file and linked into place, so that of two
    processes starting at once on a fresh `var/` one secret wins and neither
    reads a half-written file."""
    path = var_dir / "secret"
    private_directory(var_dir)
    if not path.exists():
        temporary = var_dir / f".secret.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()
