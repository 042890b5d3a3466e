"""The pure rules of access: lockout keys, versioned server keys, which digests
authenticate an account, and the answer forms of the legacy dialect."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from hongyan.config import load_settings
from hongyan.core.credentials import (
    StoredDigest,
    accepted_digests,
    api_key_digest,
    api_password,
    bare_md5,
    format_keyring,
    parse_keyring,
    verify,
)
from hongyan.core.lockout import lockout_key, operator_lockout_key
from hongyan.core.models import UID_MAX_LENGTH, Account
from hongyan.errors import ConfigError
from hongyan.keyfile import configured_ring
from hongyan.protocol import render
from hongyan.protocol.dialect import Dialect
from hongyan.protocol.stat import Stat
from hongyan.store.schema import accounts, auth_failures

# -- lockout keys (PROTOCOL.md gate 3; issue 11 item 8) ---------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002:abcd::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("not an address", "not an address"),
        ("", ""),
        ("x" * 300, "x" * 64),
    ],
)
def test_lockout_key_is_the_ipv4_address_or_the_ipv6_64(address: str, key: str) -> None:
    assert lockout_key(address) == key


def test_every_address_of_one_64_shares_a_key_and_the_next_64_does_not() -> None:
    keys = {lockout_key(f"2001:db8:aa:bb:{i:x}::{i:x}") for i in range(1, 200)}
    assert keys == {"2001:db8:aa:bb::/64"}
    assert lockout_key("2001:db8:aa:bc::1") != "2001:db8:aa:bb::/64"
    assert len(lockout_key("ffff:ffff:ffff:ffff:ffff::1")) <= 64


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1/32 ", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2::77", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::/64", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::5/128", "2001:db8:1:2::/64"),
        ("10.0.0.0/8", None),
        ("2001:db8::/48", None),
        ("localhost", None),
        ("", None),
    ],
)
def test_operator_names_a_lock_by_address_or_by_the_64_it_was_listed_as(
    text: str, key: str | None
) -> None:
    assert operator_lockout_key(text) == key


# -- the uid bound (issue 11 item 1) ------------------------------------------------------


def test_the_uid_bound_is_the_schemas_width() -> None:
    assert accounts.c.uid.type.length == UID_MAX_LENGTH
    assert auth_failures.c.uid.type.length == UID_MAX_LENGTH
    assert auth_failures.c.address.type.length >= len(lockout_key("ffff:" * 7 + "ffff"))


# -- server keys (issue 11 item 7) --------------------------------------------------------


def test_a_plain_secret_is_key_version_1_as_every_digest_before_versions() -> None:
    ring = parse_keyring("  test-secret\n")
    assert (ring.current, ring.versions) == (1, (1,))
    pwd = api_password("123123", "test")
    # The digest made the old way (one secret) is the version-1 digest.
    assert ring.digest(pwd) == StoredDigest(api_key_digest("test-secret", pwd), 1)
    # A secret with blanks or commas, but no VERSION:KEY entry, is still one key.
    assert parse_keyring("my old, long secret").keys == {1: "my old, long secret"}


def test_a_versioned_secret_one_a_line_or_comma_separated() -> None:
    text = "# comment\n1:aaa\n\n3:ccc\n"
    ring = parse_keyring(text)
    assert (ring.current, ring.versions) == (3, (1, 3))
    assert parse_keyring("3:ccc, 1:aaa").keys == ring.keys
    assert parse_keyring(format_keyring(ring)).keys == ring.keys


def test_a_ring_continues_across_rotations_and_retirements_and_never_reuses_a_version() -> None:
    first = parse_keyring("first-key")
    second = first.rotated("second-key")
    assert (second.current, second.versions) == (2, (1, 2))
    third = second.without(1)
    assert third.versions == (2,) and "first-key" not in format_keyring(third)
    fourth = parse_keyring(format_keyring(third.rotated("third-key")))
    assert (fourth.current, fourth.versions) == (3, (2, 3))
    for earlier in (first, second, third):
        assert fourth.continues(earlier)
    assert not fourth.continues(parse_keyring("another-key"))
    assert not parse_keyring("1:x,2:second-key").continues(parse_keyring("1:first-key"))
    with pytest.raises(ValueError):
        fourth.without(3)  # the current key
    assert fourth.without(2).rotated("k").current == 4


@pytest.mark.parametrize(
    "text", ["", "  \n", "1:aaa,oops-key", "1:aaa,1:bbb", "0:aaa", "1:retired:aaa"]
)
def test_a_bad_secret_is_refused_without_quoting_a_key(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_keyring(text)
    for secret_part in ("aaa", "bbb", "oops-key"):
        assert secret_part not in str(error.value)


def test_keys_never_appear_in_repr() -> None:
    ring = parse_keyring("1:aaa-key,2:bbb-key")
    stored = ring.digest("0" * 32)
    assert "aaa-key" not in repr(ring) and "bbb-key" not in repr(ring)
    assert stored.digest not in repr(stored)


def _account(**fields: object) -> Account:
    values: dict[str, object] = {
        "id": 1,
        "uid": "test",
        "api_key_digest": "",
        "ext_code": "0001",
        "frozen": False,
        "api_send": True,
        "refund_on_failure": False,
        "rate_limit": None,
        "per_number": (),
        "networks": (),
    }
    values.update(fields)
    return Account(**values)  # type: ignore[arg-type]


def test_a_digest_on_an_older_key_verifies_and_is_made_again_on_the_current_one() -> None:
    old, new = parse_keyring("1:k1"), parse_keyring("1:k1,2:k2")
    pwd = api_password("123123", "test")
    stored = old.digest(pwd)
    found = verify(new, pwd, [(False, stored)])
    assert found is not None and found.stored == stored and not found.bare
    assert found.rekeyed == StoredDigest(hmac.new(b"k2", pwd.encode(), "sha256").hexdigest(), 2)
    # On the current key: nothing to do. Upper-case hex is the same pwd.
    current = verify(new, pwd.upper(), [(False, new.digest(pwd))])
    assert current is not None and current.rekeyed is None
    # Another pwd, a key the ring no longer holds, or bytes that are no hex: no match.
    assert verify(new, api_password("x", "test"), [(False, stored)]) is None
    assert verify(parse_keyring("2:k2"), pwd, [(False, stored)]) is None
    assert verify(new, "密码", [(False, stored)]) is None


def test_md5_without_uid_authenticates_only_a_legacy_account_that_allows_it() -> None:
    ring = parse_keyring("1:k1")
    bare = bare_md5("123123")
    assert bare == hashlib.md5(b"123123").hexdigest()
    allowed = ring.digest(bare)
    standard = _account(bare_md5_digest=allowed.digest, bare_md5_key_version=1)
    legacy = _account(
        dialect=Dialect.LEGACY, bare_md5_digest=allowed.digest, bare_md5_key_version=1
    )
    legacy_not_allowed = _account(dialect=Dialect.LEGACY)
    assert verify(ring, bare, accepted_digests(standard)) is None
    assert verify(ring, bare, accepted_digests(legacy_not_allowed)) is None
    found = verify(ring, bare, accepted_digests(legacy))
    assert found is not None and found.bare
    assert len(accepted_digests(standard)) == len(accepted_digests(legacy_not_allowed)) == 1


# -- answer forms (PROTOCOL.md "Legacy dialect") ------------------------------------------


def test_tx_answers_the_bare_code_for_every_account_and_outcome() -> None:
    assert render.sent_answer("tx") == "100"
    assert render.sent_answer("mt") == "sms&stat=100&message=发送成功"
    for dialect in (None, Dialect.STANDARD, Dialect.LEGACY):
        for stat in Stat:
            assert render.error_answer("tx", stat, dialect) == str(int(stat))


def test_mm_answers_a_legacy_account_in_its_form_and_everyone_else_as_the_document() -> None:
    assert render.balance_answer(42, Dialect.LEGACY) == "100||42"
    assert render.balance_answer(42, Dialect.STANDARD) == "sms&stat=100&remain=42"
    assert render.error_answer("mm", Stat.ACCOUNT_FROZEN, Dialect.LEGACY) == "109||0"
    assert render.error_answer("mm", Stat.ACCOUNT_FROZEN, Dialect.STANDARD) == (
        "sms&stat=109&message=账号冻结"
    )
    # Before the caller has proven to be the account, no dialect: the standard form.
    assert render.error_answer("mm", Stat.AUTH_FAILED) == "sms&stat=101&message=验证失败"
    # Other endpoints keep their forms for a legacy account.
    assert render.error_answer("mt", Stat.ACCOUNT_FROZEN, Dialect.LEGACY) == (
        "sms&stat=109&message=账号冻结"
    )
    assert render.error_answer("rx", Stat.ACCOUNT_FROZEN, Dialect.LEGACY) == "109"


def test_a_malformed_versioned_secret_is_a_config_error_quoting_no_key(tmp_path: Path) -> None:
    settings = load_settings(None, var_dir=tmp_path / "var", secret="1:first-key,second-key")
    with pytest.raises(ConfigError) as error:
        configured_ring(settings)
    assert "invalid secret" in str(error.value)
    assert "first-key" not in str(error.value) and "second-key" not in str(error.value)
    settings = load_settings(None, var_dir=tmp_path / "var", secret="2:b-key,1:a-key")
    assert configured_ring(settings).versions == (1, 2)
