"""Where state lives on disk, kept to its owner: `var/` holds the server
secret, the SQLite database and the demo password, so the directory is 0700
and the files in it are 0600, whatever the process's umask."""

from __future__ import annotations

import os
from pathlib import Path


def private_directory(path: Path) -> None:
    """Create `path` as 0700, or take group and other access away from an
    existing one of ours (an older run may have made it more open)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)


def private_file(path: Path) -> None:
    """Create `path` empty as 0600 if it is missing (before anything else opens
    it), or tighten an existing one of ours to 0600. A missing directory is
    created 0700; an existing one is left as it is (it may be shared, and is
    not ours to change: `var/` itself is made private where it is used)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        _tighten(path, 0o600)


def _tighten(path: Path, mode: int) -> None:
    status = path.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(mode)
