"""Credentials (spec §1.1, PROTOCOL.md gate 2) and the server keys they are kept under.

The API password is `pwd = md5(login_password + uid)` in hex. The server keeps
no plain password and no plain md5: HMAC-SHA256(server_key, md5hex) for the
API, and an Argon2 hash of the login password for the console.

The server key has versions, so it can be rotated without locking anyone out
(issue 11 item 7): each stored digest records the version it was made with,
every version still in use stays in the key ring, and a digest on an older
version is made again on the current one when its customer next proves the
`pwd` (the only moment the server holds the md5 it is made from).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hongyan.core.models import Account
from hongyan.protocol.dialect import Dialect

_hasher = PasswordHasher()

# One entry of a versioned key ring: `VERSION:KEY` (the key itself has no
# blank and no comma, so entries can stand one a line or comma-separated).
_ENTRY = re.compile(r"([0-9]{1,9}):(\S+)")
_SEPARATORS = re.compile(r"[\s,]+")


def api_password(login_password: str, uid: str) -> str:
    """The `pwd` a client sends: md5 of password + uid, lower-case hex."""
    return hashlib.md5((login_password + uid).encode("utf-8")).hexdigest()


def bare_md5(login_password: str) -> str:
    """md5 of the password alone: the `pwd` some sister-platform clients send
    (PROTOCOL.md "Legacy dialect"), accepted only where the operator allowed it."""
    return hashlib.md5(login_password.encode("utf-8")).hexdigest()


def api_key_digest(secret: str, pwd: str) -> str:
    """What the store keeps for the API: HMAC-SHA256 keyed by a server key."""
    return hmac.new(secret.encode(), pwd.lower().encode("ascii"), hashlib.sha256).hexdigest()


def api_password_matches(secret: str, pwd: str, stored_digest: str) -> bool:
    """Constant-time check of a client's `pwd` (upper- or lower-case hex)."""
    try:
        candidate = api_key_digest(secret, pwd)
    except UnicodeEncodeError:
        candidate = ""
    return hmac.compare_digest(candidate.encode(), stored_digest.encode())


def console_hash(login_password: str) -> str:
    return _hasher.hash(login_password)


def console_password_matches(stored_hash: str, login_password: str) -> bool:
    """Whether `login_password` is the account's login password (its Argon2 hash)."""
    try:
        return _hasher.verify(stored_hash, login_password)
    except (VerificationError, InvalidHashError):
        return False


# -- server keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredDigest:
    """A digest as the store keeps it, with the version of the key it was made with."""

    digest: str = field(repr=False)
    version: int


_RETIRED = "retired:"


def key_fingerprint(key: str) -> str:
    """What stays of a retired key: SHA-256 of it, which tells nothing of a random
    256-bit key but lets a process that last saw it recognise the ring it was in."""
    return hashlib.sha256(b"hongyan server key:" + key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The server keys by version; the highest is current. Never printed or logged.

    `retired` holds the fingerprints of keys taken out of use, by version: a
    version is never given to a new key again, and `continues` can follow a
    ring across a retirement."""

    keys: Mapping[int, str] = field(repr=False, compare=False)
    retired: Mapping[int, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def current(self) -> int:
        return max(self.keys)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))

    def digest(self, pwd: str) -> StoredDigest:
        """`pwd` kept under the current key."""
        return StoredDigest(api_key_digest(self.keys[self.current], pwd), self.current)

    def matches(self, pwd: str, stored: StoredDigest) -> bool:
        """Constant time whether `pwd` is the one `stored` was made from.

        A digest on a version the ring does not hold never matches, at the
        same cost (the current key stands in)."""
        key = self.keys.get(stored.version)
        try:
            candidate = api_key_digest(key or self.keys[self.current], pwd)
        except UnicodeEncodeError:
            candidate = ""
        same = hmac.compare_digest(candidate.encode(), stored.digest.encode())
        return same and key is not None

    def continues(self, known: KeyRing) -> bool:
        """Whether this ring grew out of `known`: it holds `known`'s current key, or
        retired it. Rotation keeps the current key and retirement leaves a
        fingerprint, so every later state of one ring continues every earlier one."""
        version, key = known.current, known.keys[known.current]
        return self.keys.get(version) == key or self.retired.get(version) == key_fingerprint(key)

    def rotated(self, new_key: str) -> KeyRing:
        """This ring with `new_key` as current, under a version never used before."""
        version = max([*self.keys, *self.retired]) + 1
        return KeyRing({**self.keys, version: new_key}, self.retired)

    def without(self, version: int) -> KeyRing:
        """This ring with an old key retired (its fingerprint kept)."""
        if version == self.current or version not in self.keys:
            raise ValueError(f"key version {version} is current or not held")
        keys = {v: k for v, k in self.keys.items() if v != version}
        return KeyRing(keys, {**self.retired, version: key_fingerprint(self.keys[version])})


def parse_keyring(text: str) -> KeyRing:
    """The key ring of the `secret` setting or the key file.

    Either one key as it always was (version 1: what every digest made before
    versions existed is on), or `VERSION:KEY` entries, one a line or
    comma-separated, a retired one as `VERSION:retired:FINGERPRINT`; `#`
    starts a comment line. Errors never quote a key.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    entries = [entry for line in lines for entry in _SEPARATORS.split(line) if entry]
    if not any(_ENTRY.fullmatch(entry) for entry in entries):
        whole = text.strip()
        if not whole:
            raise ValueError("the server secret is empty")
        return KeyRing({1: whole})
    keys: dict[int, str] = {}
    retired: dict[int, str] = {}
    for position, entry in enumerate(entries, 1):
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise ValueError(
                f"entry {position} of the server secret is not VERSION:KEY "
                "(a versioned secret is VERSION:KEY entries, one a line or comma-separated)"
            )
        version, key = int(match.group(1)), match.group(2)
        if version < 1 or version in keys or version in retired:
            raise ValueError(f"server key version {version} is below 1 or given twice")
        if key.startswith(_RETIRED):
            retired[version] = key.removeprefix(_RETIRED)
        else:
            keys[version] = key
    if not keys:
        raise ValueError("the server secret holds no key in use")
    return KeyRing(keys, retired)


def format_keyring(ring: KeyRing) -> str:
    """The key file's text: a comment, then `VERSION:KEY` a line, oldest first."""
    head = (
        "# hongyan server keys, VERSION:KEY a line; the highest version is current.\n"
        "# Keep this file secret (mode 0600). `hongyan secret status` says which are in use.\n"
    )
    lines = {v: f"{v}:{k}\n" for v, k in ring.keys.items()}
    lines |= {v: f"{v}:{_RETIRED}{fp}\n" for v, fp in ring.retired.items()}
    return head + "".join(lines[v] for v in sorted(lines))


# -- the rule of what authenticates an account -------------------------------------------


@dataclass(frozen=True, slots=True)
class Verified:
    """A `pwd` proven; `rekeyed` is its digest on the current key when the stored one
    was on an older key (to be written back), else None."""

    bare: bool
    stored: StoredDigest
    rekeyed: StoredDigest | None


def accepted_digests(account: Account) -> list[tuple[bool, StoredDigest]]:
    """The digests a `pwd` may match, each flagged whether it is the bare md5 one.

    md5(password + uid) always; md5(password) alone only for a legacy account
    whose operator allowed it (PROTOCOL.md "Legacy dialect": it is weaker)."""
    accepted = [(False, StoredDigest(account.api_key_digest, account.key_version))]
    if (
        account.dialect is Dialect.LEGACY
        and account.bare_md5_digest is not None
        and account.bare_md5_key_version is not None
    ):
        accepted.append((True, StoredDigest(account.bare_md5_digest, account.bare_md5_key_version)))
    return accepted


def verify(
    ring: KeyRing, pwd: str, accepted: Sequence[tuple[bool, StoredDigest]]
) -> Verified | None:
    """Which accepted digest `pwd` matches (each is compared, in constant time), or None."""
    found: Verified | None = None
    for bare, stored in accepted:
        if ring.matches(pwd, stored) and found is None:
            rekeyed = ring.digest(pwd) if stored.version < ring.current else None
            found = Verified(bare, stored, rekeyed)
    return found
