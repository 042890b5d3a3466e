"""Account rows as an earlier version of the platform left them, written in
bulk by the tests of extension codes and of migration 0007."""

from __future__ import annotations

from typing import Any


def old_account_rows(codes: dict[str, str]) -> list[dict[str, Any]]:
    """One `accounts` row per uid and its extension code, with only the columns
    every revision since 0001 has (migration tests write them before 0008)."""
    return [
        {
            "uid": uid,
            "api_key_digest": "x",
            "console_hash": "x",
            "ext_code": code,
            "balance": 0,
            "sent_total": 0,
            "per_number": "off",
            "rate_tokens": 0.0,
            "rate_at": 0,
            "created_at": 0,
            "updated_at": 0,
        }
        for uid, code in codes.items()
    ]
