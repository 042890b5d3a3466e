"""Credentials (spec §1.1, PROTOCOL.md gate 2).

The API password is `pwd = md5(login_password + uid)` in hex. The server keeps
no plain password and no plain md5: HMAC-SHA256(server_secret, md5hex) for the
API, and an Argon2 hash of the login password for the console.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher

_hasher = PasswordHasher()


def api_password(login_password: str, uid: str) -> str:
    """The `pwd` a client sends: md5 of password + uid, lower-case hex."""
    return hashlib.md5((login_password + uid).encode("utf-8")).hexdigest()


def api_key_digest(secret: str, pwd: str) -> str:
    """What the store keeps for the API: HMAC-SHA256 keyed by the server secret."""
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
