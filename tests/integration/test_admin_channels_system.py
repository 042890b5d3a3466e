"""The channels and system pages over HTTP: each channel live with its routes,
pause and resume; the switches the API answers by; keywords added, tested
against a text as the API judges it, removed; the queue and push outbox;
live throughput polled as JSON, one read a second however many pages poll.
Every change writes exactly one audit entry; support and finance see the
pages and get 403 on the changes."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from json import loads

import pytest

from hongyan.admin.live import TTL_S
from hongyan.store import throughput as throughput_store
from tests.conftest import RunningServer
from tests.integration.admin_client import AdminClient, admin_client, audit_since, last_audit_id
from tests.waiting import until

SUCCESS_PREFIX = b"sms&stat=100"


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Iterator[AdminClient]:
    with admin_client(server, "admin") as client:
        yield client


def text_of(html: str, testid: str) -> str:
    """The text of the element marked `testid`, tags dropped, spaces squeezed."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


_numbers = itertools.count(13_900_050_000)


def send(server: RunningServer, uid_auth: dict[str, str], content: str, n: int = 1) -> bytes:
    mobiles = ",".join(str(next(_numbers)) for _ in range(n))
    return server.post("/mt/", {**uid_auth, "mobile": mobiles, "content": content}).content


# -- channels ----------------------------------------------------------------------------------


def test_the_channels_page_shows_each_channel_live_and_its_routes(live: RunningServer) -> None:
    name = live.settings.simulator.name
    customer = live.customer()
    assert send(live, customer.auth(), "hello", n=5).startswith(SUCCESS_PREFIX)
    with admin_client(live, "support") as support:

        def reported() -> bool:
            answer = support.get("/admin/channels.json").json()
            row = answer["rows"].get(name, {})
            return row.get("submitted") not in (None, "0") and row["state"][0]["text"] == "up"

        until(reported, "the channels' JSON shows the simulator up, with submits")
        page = support.get("/admin/channels")
        assert page.status_code == 200
        row = text_of(page.text, f"channel-{name}")
        assert name in row and "up" in row
        assert f'data-live-row="{name}"' in page.text
        assert "every other message" in text_of(page.text, "routes")
        # A support operator sees no pause button.
        assert f'data-testid="pause-{name}"' not in page.text
        figures = support.get("/admin/channels.json")
        assert figures.headers["content-type"].startswith("application/json")
        assert figures.headers["cache-control"] == "no-store"
        assert set(figures.json()["rows"][name]) >= {"state", "window", "rate", "delivery", "p95"}


def test_an_admin_pauses_and_resumes_a_channel_with_one_entry_each(
    server: RunningServer, admin: AdminClient
) -> None:
    name = server.settings.simulator.name
    mark = last_audit_id(server)
    try:
        paused = admin.post(f"/admin/channels/{name}/pause")
        assert paused.status_code == 303 and paused.headers["location"] == "/admin/channels"
        page = admin.get("/admin/channels")
        assert f'data-testid="resume-{name}"' in page.text
        assert "paused" in text_of(page.text, f"channel-{name}")
        [entry] = audit_since(server, mark)
        assert (entry.actor, entry.action, entry.target) == (
            admin.name,
            "channel.pause",
            f"channel:{name}",
        )
        assert (loads(entry.before), loads(entry.after)) == ({"paused": False}, {"paused": True})
        # Pausing it again changes nothing and writes nothing.
        admin.post(f"/admin/channels/{name}/pause")
        assert len(audit_since(server, mark)) == 1
    finally:
        resumed = admin.post(f"/admin/channels/{name}/resume")
    assert resumed.status_code == 303
    entries = audit_since(server, mark)
    assert [e.action for e in entries] == ["channel.pause", "channel.resume"]
    assert f'data-testid="pause-{name}"' in admin.get("/admin/channels").text
    assert admin.post("/admin/channels/no-such/pause").status_code == 404
    assert len(audit_since(server, mark)) == 2


@pytest.mark.parametrize("role", ["support", "finance"])
def test_support_and_finance_see_both_pages_and_change_nothing(
    server: RunningServer, role: str
) -> None:
    name = server.settings.simulator.name
    with admin_client(server, role) as client:
        mark = last_audit_id(server)  # after the operator's own creation
        assert client.get("/admin/channels").status_code == 200
        system = client.get("/admin/system")
        assert system.status_code == 200
        assert 'data-testid="pause-sending"' not in system.text
        assert 'data-testid="add-keyword"' not in system.text
        assert client.get("/admin/system/live.json").status_code == 200
        for path, form in [
            (f"/admin/channels/{name}/pause", {}),
            (f"/admin/channels/{name}/resume", {}),
            ("/admin/system/switch", {"name": "paused", "on": "1"}),
            ("/admin/system/keywords", {"word": "nope"}),
            ("/admin/system/keywords/remove", {"word": "nope"}),
        ]:
            refused = client.post(path, form)
            assert refused.status_code == 403, path
            assert 'data-testid="forbidden"' in refused.text
        # Testing a text changes nothing: every role may.
        assert client.get("/admin/system/keywords/test", params={"text": "hi"}).status_code == 200
    assert audit_since(server, mark) == []


# -- system ------------------------------------------------------------------------------------


def test_the_switches_change_what_the_api_answers_with_one_entry_each(
    server: RunningServer, admin: AdminClient
) -> None:
    customer = server.customer()
    mark = last_audit_id(server)
    try:
        assert admin.post("/admin/system/switch", {"name": "paused", "on": "1"}).status_code == 303
        assert send(server, customer.auth(), "hello").startswith(b"sms&stat=111")
        page = admin.get("/admin/system")
        assert "paused" in text_of(page.text, "switch-sending")
        assert 'data-testid="resume-sending"' in page.text
        [entry] = audit_since(server, mark)
        assert (entry.action, entry.target) == ("system.switch", "system:paused")
        assert (loads(entry.before), loads(entry.after)) == ({"paused": False}, {"paused": True})
    finally:
        admin.post("/admin/system/switch", {"name": "paused", "on": "0"})
    assert send(server, customer.auth(), "hello").startswith(SUCCESS_PREFIX)
    assert len(audit_since(server, mark)) == 2
    try:
        admin.post("/admin/system/switch", {"name": "maintenance", "on": "1"})
        assert send(server, customer.auth(), "hello").startswith(b"sms&stat=120")
        assert "on" in text_of(admin.get("/admin/system").text, "switch-maintenance")
    finally:
        admin.post("/admin/system/switch", {"name": "maintenance", "on": "0"})
    assert send(server, customer.auth(), "hello").startswith(SUCCESS_PREFIX)
    entries = audit_since(server, mark)
    assert [(e.target, loads(e.after)) for e in entries[2:]] == [
        ("system:maintenance", {"maintenance": True}),
        ("system:maintenance", {"maintenance": False}),
    ]
    refused = admin.post("/admin/system/switch", {"name": "everything", "on": "1"})
    assert refused.status_code == 400
    assert len(audit_since(server, mark)) == 4


def test_keywords_are_added_tested_as_the_api_judges_and_removed(
    server: RunningServer, admin: AdminClient
) -> None:
    customer = server.customer()
    word, other = f"Spam{time.monotonic_ns() % 100_000}", f"Scam{time.monotonic_ns() % 100_000}"
    mark = last_audit_id(server)
    try:
        for w in (word, other):
            assert admin.post("/admin/system/keywords", {"word": w}).status_code == 303
        listed = text_of(admin.get("/admin/system").text, "keyword-list")
        assert word in listed and other in listed
        entries = audit_since(server, mark)
        assert [(e.action, e.target) for e in entries] == [
            ("keyword.add", f"keyword:{word}"),
            ("keyword.add", f"keyword:{other}"),
        ]
        # Spaces, punctuation and case do not hide a keyword, from the API or the test.
        text = f"buy {word.upper()[:2]} {word[2:]}! or {other.lower()}"
        tested = admin.get("/admin/system/keywords/test", params={"text": text})
        result = text_of(tested.text, "keyword-test")
        assert "would refuse" in result and word in result and other in result
        assert send(server, customer.auth(), text).startswith(b"sms&stat=104")
        clean = text_of(
            admin.post("/admin/system/keywords/test", {"text": "a plain notice"}).text,
            "keyword-test",
        )
        assert "No blocked keyword" in clean
        assert send(server, customer.auth(), "a plain notice").startswith(SUCCESS_PREFIX)
        assert len(audit_since(server, mark)) == 2  # testing writes nothing
        empty = admin.post("/admin/system/keywords", {"word": "  "})
        assert empty.status_code == 400 and "must not be empty" in empty.text
    finally:
        for w in (word, other):
            admin.post("/admin/system/keywords/remove", {"word": w})
    entries = audit_since(server, mark)
    assert [(e.action, loads(e.before), loads(e.after)) for e in entries[2:]] == [
        ("keyword.remove", {"blocked": True}, {"blocked": False}),
        ("keyword.remove", {"blocked": True}, {"blocked": False}),
    ]
    assert send(server, customer.auth(), text).startswith(SUCCESS_PREFIX)
    gone = admin.post("/admin/system/keywords/remove", {"word": word})
    assert gone.status_code == 303
    assert "no keyword" in admin.get("/admin/system").text
    assert len(audit_since(server, mark)) == 4


def test_the_system_page_shows_the_queue_and_the_push_outbox(
    server: RunningServer, admin: AdminClient
) -> None:
    customer = server.customer()
    before = text_of(admin.get("/admin/system").text, "queue")
    assert send(server, customer.auth(), "queued", n=3).startswith(SUCCESS_PREFIX)
    after = text_of(admin.get("/admin/system").text, "queue")
    due = [int(re.search(r"Due (\d[\d,]*)", t).group(1).replace(",", "")) for t in (before, after)]  # type: ignore[union-attr]
    assert due[1] >= due[0] + 3  # this server does not dispatch
    hosts = text_of(admin.get("/admin/system").text, "push-hosts")
    assert "Host" in hosts and "Breaker" in hosts


def test_live_throughput_counts_what_was_accepted_with_one_read_a_second(
    server: RunningServer, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = server.customer()
    start = admin.get("/admin/system/live.json").json()
    assert start["seconds"] == 60 and len(start["series"]["accepted"]) == 60
    assert start["axis"]["ticks"][0] == 0 and start["axis"]["top"] > 0
    assert send(server, customer.auth(), "counted", n=7).startswith(SUCCESS_PREFIX)

    def counted() -> bool:
        return admin.get("/admin/system/live.json").json()["total"]["accepted"] >= 7

    until(counted, "the live figures count the 7 accepted messages")
    data = admin.get("/admin/system/live.json").json()
    assert data["axis"]["top"] >= max(data["series"]["accepted"])
    assert data["text"]["total-accepted"] == f"{data['total']['accepted']:,}"

    reads: list[int] = []
    real = throughput_store.series

    def counting(conn, since, until_s):  # type: ignore[no-untyped-def]
        reads.append(since)
        return real(conn, since, until_s)

    monkeypatch.setattr(throughput_store, "series", counting)
    started = time.monotonic()
    polls = 20
    for _ in range(polls):
        assert admin.get("/admin/system/live.json").status_code == 200
    elapsed = time.monotonic() - started
    # At most one read a second (the answer is kept a second), however many polls.
    assert len(reads) <= elapsed / TTL_S + 1


def test_a_signed_out_poll_gets_no_figures(server: RunningServer) -> None:
    answer = server.get("/admin/system/live.json")
    assert answer.status_code == 303 and "/admin/sign-in" in answer.headers["location"]
    assert server.get("/admin/channels.json").status_code == 303


def test_a_switch_the_page_has_no_words_for_still_says_what_happened(
    server: RunningServer, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A switch core knows (store/system.SWITCHES) but the page's messages do not.
    from hongyan.store import system

    monkeypatch.setattr(system, "SWITCHES", (*system.SWITCHES, "drain"))
    mark = last_audit_id(server)
    try:
        done = admin.post("/admin/system/switch", {"name": "drain", "on": "1"})
        assert done.status_code == 303, done.text[:300]
        flashed = re.search(r'data-testid="flash">([^<]*)<', admin.get("/admin/system").text)
        assert flashed and flashed.group(1) == "drain is on."
    finally:
        admin.post("/admin/system/switch", {"name": "drain", "on": "0"})
    assert [e.target for e in audit_since(server, mark)] == ["system:drain", "system:drain"]
