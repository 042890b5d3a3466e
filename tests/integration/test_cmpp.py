"""The cmpp channel, 2.0 and 3.0, against `hongyan smsc --protocol cmpp2|cmpp3`
in a process of its own, through the platform as customers use it: `/mt/`
in, the gateway's status reports out on `/st/`, replies on `/rx/`.

The gateway decides each number's fate when the SUBMIT arrives (about 10 %
UNDELIV, a number ending 9999 refused in its SUBMIT_RESP) and lists what it
decided, so each message's report is checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hongyan.channels.cmpp import text
from hongyan.channels.cmpp.codec import MsgId
from tests.conftest import Customer, RunningServer
from tests.integration.conftest import live_server
from tests.integration.test_crash import until
from tests.integration.test_serve import free_port
from tests.integration.test_smpp import all_final, finals, mobiles, send
from tests.peers.hongyan_smsc import HongyanSmsc

SP_ID, SECRET = "901234", "secret"
VERSIONS = ["2.0", "3.0"]
REFUSED = {"2.0": "CMPP_RESULT_9", "3.0": "CMPP_DEST_TERMINAL"}  # a number ending 9999
GBK_UID = "cmpp_gbk"  # routed to a channel whose carrier asks for GBK (Msg_Fmt 15)


def cmpp_channel(gateway: HongyanSmsc, version: str, name: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "cmpp",
        "name": name,
        "version": version,
        "port": gateway.port,
        "sp_id": SP_ID,
        "secret": SECRET,
        "src_id": "1069012",
        "service_id": "HYTEST",
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
        "throttle_pause_s": 0.2,
        "response_timeout_s": 3,
        **options,
    }


def running_gateway(version: str, **options: Any) -> HongyanSmsc:
    protocol = "cmpp2" if version == "2.0" else "cmpp3"
    return HongyanSmsc(system_id=SP_ID, password=SECRET, protocol=protocol, **options)


@pytest.fixture(scope="module", params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def gateway(version: str) -> Iterator[HongyanSmsc]:
    with running_gateway(version, failure_ratio=0.1, receipt_delay_ms=100) as started:
        yield started


@pytest.fixture(scope="module")
def platform(
    gateway: HongyanSmsc, version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    server = live_server(
        tmp_path_factory,
        channels=[
            cmpp_channel(gateway, version, "cmpp", active_test_s=0.5),
            cmpp_channel(gateway, version, "cmpp-gbk", coding="gbk"),
        ],
        fallback_channel="cmpp",
        routes=[{"channel": "cmpp-gbk", "accounts": [GBK_UID]}],
        dispatch_batch=500,
        lease_s=10,
    )
    yield server
    server.stop()


def expected(stat: str | None, version: str) -> str:
    if stat is None:
        return REFUSED[version]
    return "100" if stat == "DELIVRD" else stat


def decided(gateway: HongyanSmsc) -> dict[str, str]:
    """What the gateway decided for each number (its latest SUBMIT of it)."""
    return {s["dest_ids"][0]: s["outcomes"][0] for s in gateway.submits()}


def each_ends_once_as_decided(
    server: RunningServer, gateway: HongyanSmsc, c: Customer, numbers: list[str], version: str
) -> dict[str, tuple[str, str, int]]:
    until(lambda: all_final(server, c, len(numbers)), 90, f"{len(numbers)} messages final")
    fates = decided(gateway)
    states = finals(server, c)
    assert {m: (status, n) for m, (_, status, n) in states.items()} == {
        m: (expected(fates.get(m), version), 1) for m in numbers
    }
    return states


def test_messages_end_once_with_the_gateways_report(
    platform: RunningServer, gateway: HongyanSmsc, version: str
) -> None:
    c = platform.customer(balance=5_000)
    numbers = [*mobiles("13910", 2_000), "13910009999"]
    send(platform, c, numbers, "Your code is 2468")
    states = each_ends_once_as_decided(platform, gateway, c, numbers, version)
    assert states["13910009999"][1] == REFUSED[version]  # refused in SUBMIT_RESP: final
    failed = sum(1 for _, status, _ in states.values() if status != "100")
    assert 100 < failed < 320  # the gateway fails about 10 %
    ours = [s for s in gateway.submits() if s["dest_ids"][0].startswith("13910")]
    assert {s["version"] for s in ours} == {0x20 if version == "2.0" else 0x30}
    first = ours[0]
    assert (first["sp_id"], first["msg_src"], first["service_id"]) == (SP_ID, SP_ID, "HYTEST")
    assert first["src_id"].startswith("1069012")  # the access number, then the extension
    assert (first["registered_delivery"], first["msg_fmt"], first["tp_udhi"]) == (1, 0, 0)
    assert bytes.fromhex(first["content"]) == b"Your code is 2468"
    # Each Msg_Id is the gateway's: its code, and a time this month.
    ids = [MsgId.of(int(s["msg_id"])) for s in ours]
    assert {i.gateway for i in ids} == {10001} and len({i.value for i in ids}) == len(ids)


def test_a_customer_reads_the_report_on_st(
    platform: RunningServer, gateway: HongyanSmsc, version: str
) -> None:
    c = platform.customer()
    answer = platform.post(
        "/mt/", {**c.auth(), "mobile": "13960000015", "content": "状态报告", "encode": "utf8"}
    )
    assert answer.text.startswith("sms&stat=100"), answer.text
    got: list[str] = []

    def reported() -> bool:
        body = platform.get("/st/", c.auth()).content.decode("gbk")
        got.extend(line for line in body.splitlines() if line.startswith("13960000015,"))
        return bool(got)

    until(reported, 30, "the report on /st/")
    (line,) = got
    assert line.split(",")[1] == expected(decided(gateway)["13960000015"], version)


def test_long_ucs2_message_goes_in_udh_parts(platform: RunningServer, gateway: HongyanSmsc) -> None:
    long_text = "长短信测试" * 30  # 150 UCS2 characters: 3 parts of 67, 67, 16
    c = platform.customer()
    send(platform, c, ["13920000011"], long_text)
    until(lambda: all_final(platform, c, 1), 30, "long message final")
    parts = [s for s in gateway.submits() if s["dest_ids"] == ["13920000011"]]
    assert [(s["pk_total"], s["pk_number"], s["tp_udhi"]) for s in parts] == [
        (3, 1, 1),
        (3, 2, 1),
        (3, 3, 1),
    ]
    pieces = [text.split_udh(bytes.fromhex(s["content"])) for s in parts]
    assert [(u.total, u.seq) for u, _, _ in pieces if u] == [(3, 1), (3, 2), (3, 3)]
    assert len({u.reference for u, _, _ in pieces if u}) == 1
    assert all(s["msg_fmt"] == 8 for s in parts)
    assert "".join(body.decode("utf-16-be") for _, body, _ in pieces) == long_text
    _, status, written = finals(platform, c)["13920000011"]
    fates = [s["outcomes"][0] for s in parts]
    assert (status, written) == ("100" if set(fates) == {"DELIVRD"} else "UNDELIV", 1)


def test_gbk_where_the_carrier_asks_for_it(platform: RunningServer, gateway: HongyanSmsc) -> None:
    c = platform.customer(uid=GBK_UID)
    send(platform, c, ["13920000021", "13920000022"], "验证码 2468，五分钟内有效")
    send(platform, c, ["13920000023"], "不能用 GBK 写的 😀")
    until(lambda: all_final(platform, c, 3), 30, "GBK messages final")
    sent = {s["dest_ids"][0]: s for s in gateway.submits() if s["dest_ids"][0] > "1392000002"}
    for number in ("13920000021", "13920000022"):
        assert sent[number]["msg_fmt"] == 15
        assert bytes.fromhex(sent[number]["content"]).decode("gbk") == "验证码 2468，五分钟内有效"
    assert sent["13920000023"]["msg_fmt"] == 8  # what GBK cannot write goes as UCS2
    assert bytes.fromhex(sent["13920000023"]["content"]).decode("utf-16-be") == "不能用 GBK 写的 😀"


def test_replies_single_and_long_reach_the_account(
    platform: RunningServer, gateway: HongyanSmsc
) -> None:
    c = platform.customer()
    ext = platform.operate(lambda op: op.show(c.uid)).ext_code
    carrier_number = "1069012" + ext + "7"  # what the handset replied to
    ours = platform.settings.gateway_prefix + ext + "7"  # the same, as the customer sees it
    long_reply = "收到，谢谢！明天上午十点见。" * 6  # 84 characters: two parts
    gateway.inject_mo("13930000001", carrier_number, "OK thanks")
    gateway.inject_mo("13930000002", carrier_number, long_reply, parts=2)
    got: list[list[str]] = []

    def arrived() -> bool:
        body = platform.get("/rx/", c.auth()).content.decode("gbk")
        got.extend(entry.split("||") for entry in body.split("{&}")[1:])
        return len(got) >= 2

    until(arrived, 30, "two replies on /rx/")
    assert sorted((mobile, content, to) for mobile, content, _, to in got) == [
        ("13930000001", "OK thanks", ours),
        ("13930000002", long_reply, ours),
    ]


def test_flow_control_slows_down_and_loses_nothing(
    platform: RunningServer, gateway: HongyanSmsc, version: str
) -> None:
    c = platform.customer()
    before = gateway.counters()["throttled"]
    gateway.throttle(3.0)  # well past the first SUBMITs of the 300
    numbers = mobiles("13940", 300)
    send(platform, c, numbers, "throttled but delivered")
    each_ends_once_as_decided(platform, gateway, c, numbers, version)
    assert gateway.counters()["throttled"] > before


def test_a_dead_link_is_found_and_made_again(
    platform: RunningServer, gateway: HongyanSmsc, version: str
) -> None:
    """A gateway gone silent, connection left open: ACTIVE_TEST goes
    unanswered (after the SUBMITs in the window time out, 3 s), the channel
    drops the link, connects again, and delivers, all well within the freeze."""
    before = gateway.counters()["connect_total"]
    gateway.freeze(60.0)
    c = platform.customer()
    numbers = mobiles("13950", 50)
    send(platform, c, numbers, "after a dead link")
    until(lambda: gateway.counters()["connect_total"] > before, 30, "connected again")
    each_ends_once_as_decided(platform, gateway, c, numbers, version)


def test_china_mobile_numbers_route_to_cmpp_failing_over_while_it_is_down(
    version: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """China Mobile's numbers go to a cmpp channel whose gateway cannot be
    reached, so to its failover, the cmpp channel that is up; the others to
    the fallback (the embedded simulator). A gateway of its own: an ISMG
    sends an SP's reports over any of the SP's connections, and the module's
    platform is connected as the same SP."""
    unreachable = {"port": free_port(), "connect_timeout_s": 0.5}
    with running_gateway(version, receipt_delay_ms=100) as gateway:
        server = live_server(
            tmp_path_factory,
            channels=[
                {**cmpp_channel(gateway, version, "cmcc-primary"), **unreachable},
                cmpp_channel(gateway, version, "cmcc-backup"),
            ],
            routes=[
                {
                    "channel": "cmcc-primary",
                    "carriers": ["china_mobile"],
                    "failover": ["cmcc-backup"],
                }
            ],
        )
        try:
            c = server.customer()
            mobile, unicom = "13980000015", "13080000015"  # China Mobile's 139, Unicom's 130
            send(server, c, [mobile, unicom], "routed by carrier")
            until(lambda: all_final(server, c, 2), 30, "both messages final")
            assert [s["dest_ids"] for s in gateway.submits()] == [[mobile]]
            assert finals(server, c)[unicom][1] == "100"  # the simulator delivered it
        finally:
            server.stop()
