"""The server key ring: where it comes from, and the key file it is kept in.

The ring is the `secret` setting (core/credentials.py `parse_keyring`): given
by `HONGYAN_SECRET` or the config file, or else generated into `var/secret`
(config.py `_kept_secret`). `hongyan secret rotate` adds a version to that
file and `hongyan secret retire` removes an old one; a running server reads
the file again when it learns of a newer version. A file is taken only when
it continues the ring in use (`KeyRing.continues`: it holds or retired that
ring's current key), so a stray or stale file never replaces an
operator-given secret.

A ring given by the environment or the config file is rotated where it is
given (`HONGYAN_SECRET='2:NEWKEY,1:OLDKEY'`, then a restart). The file is
written whole to a temporary file of mode 0600 and renamed over the old one,
under an exclusive lock, so a reader never sees half a ring and two
rotations at once cannot lose a key.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from hongyan.config import Settings
from hongyan.core.credentials import KeyRing, format_keyring, parse_keyring
from hongyan.errors import ConfigError, InvalidInput


def key_file(settings: Settings) -> Path:
    return settings.var_dir / "secret"


def configured_ring(settings: Settings) -> KeyRing:
    try:
        return parse_keyring(settings.secret)
    except ValueError as exc:
        raise ConfigError(f"invalid secret: {exc}") from None


def _read(path: Path) -> KeyRing | None:
    try:
        return parse_keyring(path.read_text())
    except (OSError, ValueError):
        return None


def load_keyring(settings: Settings, known: KeyRing | None = None) -> KeyRing:
    """The ring to use now: the key file's when it continues `known` (by default the
    settings' ring), else `known`."""
    known = known or configured_ring(settings)
    kept = _read(key_file(settings))
    return kept if kept is not None and kept.continues(known) else known


def kept_in_file(settings: Settings) -> bool:
    """Whether the ring is the key file's (so `secret rotate` may change it)."""
    kept = _read(key_file(settings))
    return kept is not None and kept.continues(configured_ring(settings))


def _given_elsewhere() -> ConfigError:
    return ConfigError(
        "the server secret is given by HONGYAN_SECRET or the config file, not kept in "
        "var/secret: rotate it there (VERSION:KEY entries, e.g. "
        "HONGYAN_SECRET='2:NEWKEY,1:OLDKEY', the highest current) and restart"
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # releases the lock


def _write(path: Path, ring: KeyRing) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(format_keyring(ring))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def rotate(settings: Settings) -> KeyRing:
    """Add a new current key to the key file; the old ones stay. The new ring."""
    path = key_file(settings)
    if not kept_in_file(settings):
        raise _given_elsewhere()
    with _locked(path):
        kept = _read(path)
        assert kept is not None  # checked above; a rotation only ever adds
        ring = kept.rotated(secrets.token_hex(32))
        _write(path, ring)
    return ring


def retire(settings: Settings, version: int) -> KeyRing:
    """Remove an old key from the key file (the caller checked nothing uses it)."""
    path = key_file(settings)
    if not kept_in_file(settings):
        raise _given_elsewhere()
    with _locked(path):
        kept = _read(path)
        assert kept is not None
        if version not in kept.keys:
            raise InvalidInput(f"there is no server key version {version}")
        if version == kept.current:
            raise InvalidInput(f"version {version} is the current key: rotate first")
        ring = kept.without(version)
        _write(path, ring)
    return ring
