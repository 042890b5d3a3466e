"""Reading an audit entry back as a person sees it: only the fields whose value
differs between before and after, and a console's date filter as epoch bounds."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hongyan.core.audit_log import Change, changes, time_range
from hongyan.errors import InvalidInput
from hongyan.store.audit import Entry

SHANGHAI = ZoneInfo("Asia/Shanghai")


def entry(before: object = None, after: object = None) -> Entry:
    def text(value: object) -> str:
        return "" if value is None else json.dumps(value)

    return Entry(1, 0, "alice", "console", "", "account.topup", "account:c1", text(before),
                 text(after), "")  # fmt: skip


def test_only_the_fields_that_differ_are_changes_in_the_entrys_order() -> None:
    found = changes(
        entry({"balance": 100, "frozen": False}, {"balance": 150, "frozen": False, "amount": 50})
    )
    assert found == [Change("balance", 100, 150), Change("amount", None, 50, had=False)]


def test_a_field_only_before_has_was_removed_and_null_is_a_value() -> None:
    found = changes(entry({"ip": "10.0.0.1", "note": None}, {"note": "x"}))
    assert found == [Change("ip", "10.0.0.1", None, has=False), Change("note", None, "x")]


def test_an_entry_without_before_or_after_has_no_changes() -> None:
    assert changes(entry()) == []
    assert changes(entry({"blocked": True}, {"blocked": True})) == []


def test_a_value_that_is_no_object_is_one_change() -> None:
    bare = entry()._replace(before="7", after="not json")
    assert changes(bare) == [Change("value", 7, "not json")]


def test_dates_are_local_days_both_included() -> None:
    since, until = time_range("2026-11-03", "2026-11-04", SHANGHAI)
    assert since == int(datetime(2026, 11, 3, tzinfo=SHANGHAI).timestamp() * 1000)
    assert until == int(datetime(2026, 11, 5, tzinfo=SHANGHAI).timestamp() * 1000)
    assert time_range("", "", SHANGHAI) == (None, None)
    assert time_range("2026-11-03", "", SHANGHAI)[1] is None


@pytest.mark.parametrize(
    ("first", "last"), [("2026-13-01", ""), ("", "x"), ("2026-11-05", "2026-11-04")]
)
def test_a_date_that_cannot_be_read_or_a_reversed_range_is_refused(first: str, last: str) -> None:
    with pytest.raises(InvalidInput):
        time_range(first, last, SHANGHAI)
