"""What a failed message's status means: exact codes, then families, then
"the carrier said so"; in Chinese and English alike."""

from __future__ import annotations

import pytest

from hongyan.channels.smpp.constants import CommandStatus
from hongyan.core.receipt_codes import explain
from hongyan.core.states import Status


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("UNDELIV", ("停机", "suspended")),
        ("REJECTD", ("黑名单", "blacklist")),
        ("EXPIRED", ("有效期", "validity")),
        ("DELETED", ("删除", "deleted")),
        ("UNKNOWN", ("无法确定", "does not know")),
        ("112", ("号码格式无效", "Not a valid mobile number")),
        ("110", ("上限", "maximum")),
        ("CANCELLED", ("取消", "Cancelled")),
        ("ESME_RINVDSTADR", ("目标号码无效", "destination number")),
        ("ESME_RTHROTTLED", ("降低发送速度", "slow down")),
        ("DB:0141", ("黑名单", "blacklist")),
        ("CB:0007", ("余额不足", "balance")),
    ],
)
def test_a_known_code_is_explained_exactly(status: str, words: tuple[str, str]) -> None:
    found = explain(status)
    assert found.known
    assert words[0] in found.text("zh")
    assert words[1] in found.text("en")


def test_the_platforms_own_statuses_are_all_known() -> None:
    for status in (Status.EXPIRED, Status.REJECTED, Status.BAD_NUMBER, Status.PER_NUMBER_LIMITED):
        assert explain(status).known, status


def test_codes_are_read_without_case_or_surrounding_space() -> None:
    assert explain(" undeliv ").zh == explain("UNDELIV").zh
    assert explain("db:0141").known
    assert explain("undeliv").status == "undeliv"  # shown as it came


@pytest.mark.parametrize(
    ("status", "family_words"),
    [
        ("MK:0005", ("网关拒收", "gateway rejected")),
        ("MB:1077", ("短信中心拒绝", "SMS centre refused")),
        ("MA:0054", ("短信中心之间出错", "SMS centre")),
        ("MI:0029", ("转发", "another carrier")),
        ("MN:0001", ("其他网关", "another gateway")),
        ("DB:0008", ("号码路由", "routing")),
        ("CB:0053", ("计费系统", "billing")),
        ("IA:0099", ("业务平台", "service platform")),
    ],
)
def test_an_unlisted_china_mobile_code_is_explained_by_its_family(
    status: str, family_words: tuple[str, str]
) -> None:
    found = explain(status)
    assert not found.known
    assert family_words[0] in found.zh and status in found.zh
    assert family_words[1] in found.en and status in found.en
    assert found.zh.startswith("中国移动")


def test_every_smpp_error_name_has_a_reading() -> None:
    for name in CommandStatus.__members__:
        if name == "ESME_ROK":
            continue
        found = explain(name)
        assert name in found.en or found.known, name
        assert "SMPP" in found.en or found.known, name


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("0x0000040A", ("自定义错误码", "code of its own")),
        ("613", ("联通、电信", "China Unicom and China Telecom")),
        ("XYZ:9", ("运营商返回 XYZ:9", "The carrier reported XYZ:9")),
        ("ZZ:0001", ("运营商返回 ZZ:0001", "The carrier reported ZZ:0001")),
    ],
)
def test_anything_else_says_what_the_carrier_reported(status: str, words: tuple[str, str]) -> None:
    found = explain(status)
    assert not found.known
    assert words[0] in found.zh and words[1] in found.en
