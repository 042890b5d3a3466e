"""What a message's final status means, said for the customer who sent it.

A failed message's status is our own code (`112`, `110`, `EXPIRED`, a
cancelled send), a receipt word of SMPP 3.4 Appendix B (`UNDELIV`,
`REJECTD`...), an SMPP command_status name when the submit itself was
refused (SMPP 3.4 §5.1.3, `channels/smpp/constants.py`), or whatever the
carrier's gateway put in its report: China Mobile's ISMG writes a two-letter
family and four digits (`MK:0001`, `DB:0141`), Unicom's and Telecom's
gateways (SGIP, SMGP) often plain numbers.

`explain(status)` looks the status up exactly, then by its family (the
prefix before the colon, `ESME_`, `0x`, all digits), then says only that
the carrier reported it: carriers and aggregators use many codes of their
own, and a wrong precise explanation is worse than a plain "ask us". The
family texts say what the family means in China Mobile's gateway error
tables (which element of the network answered) and what it most often is.
Codes are compared without case and surrounding space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hongyan.core.states import Status


@dataclass(frozen=True, slots=True)
class Explanation:
    """A status, said in English and in Chinese; `known` is False for a
    family-level or generic reading (the exact code is not in our table)."""

    status: str
    en: str
    zh: str
    known: bool

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


# Statuses a cancelled scheduled message may be written with (another page's
# feature): the plain readings, whichever spelling it lands with.
CANCELLED_STATUSES = ("CANCELLED", "CANCELED")

# (English, Chinese) by exact status, upper case.
_EXACT: dict[str, tuple[str, str]] = {
    # Our own (core/states.Status): written by the platform, not a carrier.
    Status.DELIVERED: ("Delivered to the handset.", "已成功送达手机。"),
    Status.BAD_NUMBER: (
        "Not a valid mobile number: refused when sent, not charged.",
        "号码格式无效：提交时即被拒绝，未扣费。",
    ),
    Status.PER_NUMBER_LIMITED: (
        "This number had already been sent the account's maximum for the period: "
        "refused when sent, not charged.",
        "该号码在限定时间内的发送次数已达上限：提交时即被拒绝，未扣费。",
    ),
    Status.EXPIRED: (
        "Not delivered within the message's validity period: the phone was off, out of "
        "coverage or its inbox full for too long, or the carrier could not take it in time.",
        "在有效期内未能送达：手机长时间关机、不在服务区或收件箱已满，或运营商未能及时接收。",
    ),
    **dict.fromkeys(
        CANCELLED_STATUSES,
        (
            "Cancelled before it was sent; its parts were refunded.",
            "发送前已取消，所扣条数已退回。",
        ),
    ),
    # SMPP 3.4 Appendix B message states, as receipts write them.
    "UNDELIV": (
        "The carrier could not deliver it: usually the number is suspended, unpaid, "
        "out of service or does not exist.",
        "运营商无法送达：通常是号码停机、欠费、销号或空号。",
    ),
    "REJECTD": (
        "The carrier refused it: often the number is on a blacklist, or the content or "
        "signature was not accepted.",
        "运营商拒收：常见原因是号码在黑名单中，或内容、签名未通过审核。",
    ),
    "DELETED": (
        "The carrier deleted it before delivery (an operator action or an invalid message).",
        "短信在送达前被运营商删除（人工干预或消息无效）。",
    ),
    "UNKNOWN": (
        "The carrier does not know what became of it: it may still arrive.",
        "运营商无法确定送达结果，短信仍可能送达。",
    ),
    "ACCEPTD": (
        "Taken by an operator on the carrier's side; no delivery confirmation.",
        "已由运营商人工受理，但没有送达确认。",
    ),
    # SMPP 3.4 §5.1.3: submits refused by the carrier's SMSC.
    "ESME_RINVDSTADR": (
        "The carrier refused the destination number as invalid.",
        "运营商认为目标号码无效，拒绝发送。",
    ),
    "ESME_RINVSRCADR": (
        "The carrier refused the sender number (extension) as invalid.",
        "运营商认为发送号码（扩展号）无效，拒绝发送。",
    ),
    "ESME_RINVMSGLEN": ("The carrier refused the text's length.", "运营商拒绝了该短信的长度。"),
    "ESME_RTHROTTLED": (
        "The carrier asked us to slow down and the message could not go in time.",
        "运营商要求降低发送速度，短信未能及时发出。",
    ),
    "ESME_RMSGQFUL": (
        "The carrier's queue for this number was full (often the phone has been off a long time).",
        "运营商对该号码的待发队列已满（通常是手机长时间关机）。",
    ),
    "ESME_RSUBMITFAIL": ("The carrier's SMSC refused the submit.", "运营商短信中心拒绝提交。"),
    "ESME_RSYSERR": (
        "The carrier's SMSC had an internal error.",
        "运营商短信中心内部错误。",
    ),
    "ESME_RX_P_APPN": (
        "The carrier refused it for good (often a blacklisted number or blocked content).",
        "运营商永久拒绝（通常是黑名单号码或被拦截的内容）。",
    ),
    "ESME_RX_T_APPN": (
        "The carrier refused it for now and it could not be sent within its validity.",
        "运营商暂时拒绝，在有效期内未能发出。",
    ),
    "ESME_RX_R_APPN": (
        "The carrier refused it and asked that it not be sent again.",
        "运营商拒绝并要求不要重发。",
    ),
    "ESME_RDELIVERYFAILURE": (
        "The carrier reports that delivery failed.",
        "运营商报告投递失败。",
    ),
    "ESME_RUNKNOWNERR": ("The carrier gave an unknown error.", "运营商返回未知错误。"),
    # CMPP SUBMIT_RESP results (CMPP 3.0 §7.4.3.2), as channels/cmpp/mapping.py names them.
    "CMPP_DEST_TERMINAL": (
        "China Mobile's gateway refused the destination number as invalid.",
        "中国移动网关认为目标号码无效，拒绝发送。",
    ),
    "CMPP_SRC_ID": (
        "China Mobile's gateway refused the sender number (access number and extension).",
        "中国移动网关拒绝了发送号码（接入号及扩展号）。",
    ),
    "CMPP_SERVICE_ID": (
        "China Mobile's gateway refused the service code this platform sends with.",
        "中国移动网关拒绝了本平台使用的业务代码。",
    ),
    "CMPP_FEE_CODE": (
        "China Mobile's gateway refused the fee settings this platform sends with.",
        "中国移动网关拒绝了本平台使用的资费设置。",
    ),
    "CMPP_FLOW_CONTROL": (
        "China Mobile's gateway asked us to slow down and the message could not go in time.",
        "中国移动网关要求降低发送速度，短信未能及时发出。",
    ),
    "CMPP_TOO_LONG": (
        "China Mobile's gateway refused the text's length.",
        "中国移动网关拒绝了该短信的长度。",
    ),
    # China Mobile gateway error tables: codes whose meaning is documented.
    "DB:0141": (
        "China Mobile: the number is on the carrier's blacklist.",
        "中国移动：号码在运营商黑名单中。",
    ),
    "CB:0001": (
        "China Mobile billing: not a prepaid subscriber the charge can go to; often an "
        "empty or invalid number.",
        "中国移动计费系统：非预付费用户，通常是空号或无效号码。",
    ),
    "CB:0005": (
        "China Mobile billing: the prepaid account is in an abnormal state (not activated, "
        "blocked, expiring or reported lost).",
        "中国移动计费系统：预付费用户状态异常（未激活、被封锁、进入保留期或挂失）。",
    ),
    "CB:0007": (
        "China Mobile billing: the subscriber's balance is too low.",
        "中国移动计费系统：用户余额不足。",
    ),
    "IA:0051": ("China Mobile gateway: no connection yet.", "中国移动网关：尚未建立连接。"),
    "IA:0052": ("China Mobile gateway: not signed in yet.", "中国移动网关：尚未成功登录。"),
    "IA:0054": (
        "China Mobile gateway: no answer in time.",
        "中国移动网关：超时未收到响应。",
    ),
}

# China Mobile's two-letter families: which part of the network answered.
_FAMILIES: dict[str, tuple[str, str]] = {
    "MA": (
        "the gateway could not pass it to the SMS centre (often temporary; some gateways "
        "also use it for blacklisted numbers)",
        "网关与短信中心之间出错（多为临时故障；部分网关也用于黑名单号码）",
    ),
    "MB": (
        "the SMS centre refused it: most often the number's state (suspended, unpaid, "
        "empty) or the content",
        "短信中心拒绝：多因号码状态（停机、欠费、空号）或内容",
    ),
    "MK": (
        "the gateway rejected it: often a blacklist, an empty number, or the content",
        "网关拒收：常见原因是黑名单、空号或内容",
    ),
    "MI": (
        "passing it to another carrier or province's gateway failed",
        "转发到其他网关（异地或异网）时出错",
    ),
    "MN": (
        "another gateway on the way refused it",
        "途经的其他网关拒绝了该短信",
    ),
    "DA": (
        "the number routing lookup could not be reached",
        "号码路由查询服务无法连接",
    ),
    "DB": (
        "the number routing lookup refused it: often an unknown, ported or blacklisted number",
        "号码路由查询拒绝：常见原因是号码不存在、携号转网或在黑名单中",
    ),
    "CA": ("the billing system could not be reached", "无法连接计费系统"),
    "CB": (
        "the billing system refused it: often the subscriber's account state or balance",
        "计费系统拒绝：常见原因是用户账户状态或余额",
    ),
    "IA": (
        "the connection between the gateway and the service platform failed",
        "网关与业务平台之间连接出错",
    ),
    "IB": ("the service platform refused it", "业务平台拒绝"),
    "ID": ("the gateway had an internal error", "网关内部错误"),
}

_FAMILY = re.compile(r"^([A-Z]{2}):\s*[0-9A-Z]+$")


def explain(status: str) -> Explanation:
    """What `status` means: exactly, by its family, or only "the carrier said so"."""
    code = status.strip().upper()
    if code in _EXACT:
        en, zh = _EXACT[code]
        return Explanation(status, en, zh, known=True)
    family = _FAMILY.match(code)
    if family and family.group(1) in _FAMILIES:
        en, zh = _FAMILIES[family.group(1)]
        return Explanation(
            status, f"China Mobile: {en} ({status}).", f"中国移动：{zh}（{status}）。", known=False
        )
    if code.startswith("CMPP_"):
        return Explanation(
            status,
            f"China Mobile's gateway refused the submit ({status}, a CMPP result code).",
            f"中国移动网关拒绝提交（{status}，CMPP 结果码）。",
            known=False,
        )
    if code.startswith("ESME_R"):
        return Explanation(
            status,
            f"The carrier's SMSC refused the submit ({status}, SMPP 3.4 §5.1.3).",
            f"运营商短信中心拒绝提交（{status}，SMPP 错误码）。",
            known=False,
        )
    if code.startswith("0X"):
        return Explanation(
            status,
            f"The carrier's SMSC refused it with a code of its own ({status}).",
            f"运营商短信中心以其自定义错误码拒绝（{status}）。",
            known=False,
        )
    if code.isdigit():
        return Explanation(
            status,
            f"A numeric code from the carrier's gateway (China Unicom and China Telecom "
            f"gateways report failures as numbers) ({status}): contact us with the code.",
            f"运营商网关返回的数字错误码（联通、电信网关常以数字表示失败原因）（{status}），"
            f"可凭此代码联系我们查询。",
            known=False,
        )
    return Explanation(
        status,
        f"The carrier reported {status}: contact us with the code if it keeps happening.",
        f"运营商返回 {status}：如频繁出现，请凭此代码联系我们。",
        known=False,
    )
