"""Stat codes of the customer API (spec §4 table; 111 and 115 from later versions)."""

from __future__ import annotations

from enum import IntEnum


class Stat(IntEnum):
    OK = 100
    AUTH_FAILED = 101
    INSUFFICIENT_BALANCE = 102
    OPERATION_FAILED = 103
    ILLEGAL_CHARACTERS = 104
    CONTENT_TOO_LONG = 105
    TOO_MANY_NUMBERS = 106
    RATE_LIMITED = 107
    EMPTY_NUMBER_OR_CONTENT = 108
    ACCOUNT_FROZEN = 109
    PER_NUMBER_LIMITED = 110
    SENDING_PAUSED = 111
    BAD_NUMBER = 112
    BAD_SCHEDULE_TIME = 113
    ACCOUNT_LOCKED = 114
    NO_CHANNEL = 115
    API_SENDING_DISABLED = 116
    IP_NOT_BOUND = 117
    MAINTENANCE = 120

    @property
    def text(self) -> str:
        return _TEXTS[self]


_TEXTS: dict[Stat, str] = {
    Stat.OK: "发送成功",
    Stat.AUTH_FAILED: "验证失败",
    Stat.INSUFFICIENT_BALANCE: "短信不足",
    Stat.OPERATION_FAILED: "操作失败",
    Stat.ILLEGAL_CHARACTERS: "非法字符",
    Stat.CONTENT_TOO_LONG: "内容过多",
    Stat.TOO_MANY_NUMBERS: "号码过多",
    Stat.RATE_LIMITED: "频率过快",
    Stat.EMPTY_NUMBER_OR_CONTENT: "号码内容空",
    Stat.ACCOUNT_FROZEN: "账号冻结",
    Stat.PER_NUMBER_LIMITED: "禁止频繁单条发送",
    Stat.SENDING_PAUSED: "系统暂停发送",
    Stat.BAD_NUMBER: "号码错误",
    Stat.BAD_SCHEDULE_TIME: "定时时间格式不对",
    Stat.ACCOUNT_LOCKED: "账号被锁，10分钟后登录",
    Stat.NO_CHANNEL: "连接失败",
    Stat.API_SENDING_DISABLED: "禁止接口发送",
    Stat.IP_NOT_BOUND: "绑定IP不正确",
    Stat.MAINTENANCE: "系统升级",
}
