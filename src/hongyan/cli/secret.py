"""`hongyan secret ...`: the server keys that API credentials are kept under.

Keys are versioned (core/credentials.py, keyfile.py): `rotate` makes a new
current key and keeps the old ones, so nobody is locked out; each account's
digest moves to the new key at its next successful request; `status` says how
many accounts are still on older keys, and `retire` removes an old key once
none is. No command prints a key.
"""

from __future__ import annotations

import typer

from hongyan.cli.common import run
from hongyan.core.access import KeyStatus

secret_app = typer.Typer(no_args_is_help=True, help="Server keys of the API credentials")


def _describe(status: KeyStatus) -> str:
    older = ", ".join(
        f"version {v}: {status.digests[v]}"
        for v in status.versions
        if v < status.current and status.digests.get(v)
    )
    lines = [
        f"current key: version {status.current}; keys held: "
        f"{', '.join(str(v) for v in status.versions)} "
        f"({'kept in var/secret' if status.kept_in_file else 'given by the settings'})",
        f"accounts on an older key: {status.on_older}" + (f" (digests {older})" if older else ""),
    ]
    if status.on_older:
        lines.append(
            f"each moves to version {status.current} at its next successful request "
            "(or at `hongyan account password UID`)"
        )
    if status.unknown:
        missing = ", ".join(f"version {v}: {n}" for v, n in sorted(status.unknown.items()))
        lines.append(
            f"digests on keys this ring does not hold ({missing}): their accounts answer 101; "
            "check the secret setting"
        )
    if status.retirable:
        versions = ", ".join(str(v) for v in status.retirable)
        lines.append(f"no longer used: version {versions}: `hongyan secret retire VERSION`")
    return "\n".join(lines)


@secret_app.command("rotate")
def secret_rotate() -> None:
    """Make a new current key; old keys stay until retired, so nobody is locked out."""
    status = run(lambda op: op.access.rotate_key())
    typer.echo(f"new server key version {status.current}\n{_describe(status)}")


@secret_app.command("status")
def secret_status() -> None:
    """The current key version, and how many accounts are still on older keys."""
    typer.echo(_describe(run(lambda op: op.access.key_status())))


@secret_app.command("retire")
def secret_retire(version: int) -> None:
    """Remove an old key from var/secret once no account's digest is on it."""
    status = run(lambda op: op.access.retire_key(version))
    typer.echo(f"retired server key version {version}\n{_describe(status)}")
