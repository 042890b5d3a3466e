"""Every error the SDK raises, under one root.

    SmsApiError                      root: catch this to catch everything below
    ├── TransportError               no answer: connect/read failure, timeout, HTTP != 2xx
    ├── UnexpectedAnswer             an answer not in the protocol's form (.body)
    └── StatusError                  a stat code other than 100 (.stat, .message)
        ├── AuthFailed               101 验证失败          wrong uid or password
        ├── InsufficientBalance      102 短信不足          not enough parts for the whole request
        ├── OperationFailed          103 操作失败          the server could not do it
        ├── IllegalCharacters        104 非法字符          control character, blocked word, bad id
        ├── ContentTooLong           105 内容过多
        ├── TooManyNumbers           106 号码过多
        ├── RateLimited              107 频率过快          over the account's request rate
        ├── EmptyNumberOrContent     108 号码内容空
        ├── AccountFrozen            109 账号冻结
        ├── PerNumberLimited         110 禁止频繁单条发送  one number sent to too often
        ├── SendingPaused            111 系统暂停发送      the operator paused sending
        ├── BadNumber                112 号码错误          no valid number in the request
        ├── BadScheduleTime          113 定时时间格式不对  `at`/`since`/`date` refused
        ├── AccountLocked            114 账号被锁，10分钟后登录
        ├── NoChannel                115 连接失败          no upstream can take these numbers
        ├── ApiSendingDisabled       116 禁止接口发送
        ├── IpNotBound               117 绑定IP不正确
        └── Maintenance              120 系统升级

A stat code the table does not know raises `StatusError` itself, with the
code and the server's text. Bad arguments (more than 2000 numbers, a `pwd`
that is not 32 hex digits) raise `ValueError` before anything is sent.

    >>> try:
    ...     sms.send("13900008888", "您的验证码是 1234")
    ... except InsufficientBalance:
    ...     top_up()
    ... except SmsApiError as exc:
    ...     log.error("send failed: %s", exc)      # "101 验证失败", "timed out", ...

Nothing is retried for you: a send that timed out may have been accepted and
charged, and a `/st/` or `/rx/` batch lost in transit is not handed out again
(replies can be fetched again with `replies(since=...)`, records stay in `/rd/`).
"""

from __future__ import annotations

__all__ = [
    "STAT_TEXTS",
    "AccountFrozen",
    "AccountLocked",
    "ApiSendingDisabled",
    "AuthFailed",
    "BadNumber",
    "BadScheduleTime",
    "ContentTooLong",
    "EmptyNumberOrContent",
    "IllegalCharacters",
    "InsufficientBalance",
    "IpNotBound",
    "Maintenance",
    "NoChannel",
    "OperationFailed",
    "PerNumberLimited",
    "RateLimited",
    "SendingPaused",
    "SmsApiError",
    "StatusError",
    "TooManyNumbers",
    "TransportError",
    "UnexpectedAnswer",
    "error_for",
]

# The protocol's stat codes and texts (the document's table; 111 and 115 from
# later versions). Copied, not imported: the SDK works against any server.
STAT_TEXTS: dict[int, str] = {
    100: "发送成功",
    101: "验证失败",
    102: "短信不足",
    103: "操作失败",
    104: "非法字符",
    105: "内容过多",
    106: "号码过多",
    107: "频率过快",
    108: "号码内容空",
    109: "账号冻结",
    110: "禁止频繁单条发送",
    111: "系统暂停发送",
    112: "号码错误",
    113: "定时时间格式不对",
    114: "账号被锁，10分钟后登录",
    115: "连接失败",
    116: "禁止接口发送",
    117: "绑定IP不正确",
    120: "系统升级",
}


class SmsApiError(Exception):
    """Root of everything the SDK raises; `stat` is None unless the server sent one."""

    stat: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransportError(SmsApiError):
    """The request got no protocol answer (raised from the underlying httpx error).

    A send that fails this way may or may not have been accepted: check `/rd/`
    before sending again. `status_code` is the HTTP status when there was one.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class UnexpectedAnswer(SmsApiError):
    """The server answered, but not in the protocol's form. `body` is the raw answer."""

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.body = body


class StatusError(SmsApiError):
    """The server refused the request with a stat code; str() is `"<stat> <message>"`.

    `message` is the server's text, or the table's text where the answer had
    none (`/rx/` answers errors with the bare code).
    """

    code: int = 0
    stat: int

    def __init__(self, stat: int | None = None, message: str | None = None) -> None:
        self.stat = self.code if stat is None else stat
        text = STAT_TEXTS.get(self.stat, "") if message is None else message
        super().__init__(text)

    def __str__(self) -> str:
        return f"{self.stat} {self.message}".rstrip()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(stat={self.stat}, message={self.message!r})"


class AuthFailed(StatusError):
    """101 验证失败: unknown uid, or pwd is not md5(password + uid)."""

    code = 101


class InsufficientBalance(StatusError):
    """102 短信不足: the balance does not cover the whole request; nothing was sent."""

    code = 102


class OperationFailed(StatusError):
    """103 操作失败: the server failed or could not read the request."""

    code = 103


class IllegalCharacters(StatusError):
    """104 非法字符: control characters, a blocked keyword, undecodable bytes or a bad id."""

    code = 104


class ContentTooLong(StatusError):
    """105 内容过多."""

    code = 105


class TooManyNumbers(StatusError):
    """106 号码过多: over the server's limit of numbers per request."""

    code = 106


class RateLimited(StatusError):
    """107 频率过快: over the account's request rate; wait and try again."""

    code = 107


class EmptyNumberOrContent(StatusError):
    """108 号码内容空."""

    code = 108


class AccountFrozen(StatusError):
    """109 账号冻结."""

    code = 109


class PerNumberLimited(StatusError):
    """110 禁止频繁单条发送: this number was sent to too often."""

    code = 110


class SendingPaused(StatusError):
    """111 系统暂停发送: the operator paused sending; nothing was stored."""

    code = 111


class BadNumber(StatusError):
    """112 号码错误: no valid number in the request."""

    code = 112


class BadScheduleTime(StatusError):
    """113 定时时间格式不对: an unreadable or too distant time or date."""

    code = 113


class AccountLocked(StatusError):
    """114 账号被锁，10分钟后登录: too many failed logins from this address."""

    code = 114


class NoChannel(StatusError):
    """115 连接失败: no upstream channel can take these numbers."""

    code = 115


class ApiSendingDisabled(StatusError):
    """116 禁止接口发送: this account may not send through the API."""

    code = 116


class IpNotBound(StatusError):
    """117 绑定IP不正确: the request came from an address the account has not bound."""

    code = 117


class Maintenance(StatusError):
    """120 系统升级: the platform is down for maintenance."""

    code = 120


_BY_STAT: dict[int, type[StatusError]] = {
    cls.code: cls for cls in StatusError.__subclasses__() if cls.code in STAT_TEXTS
}


def error_for(stat: int, message: str | None = None) -> StatusError:
    """The exception for a stat code: its own class, or `StatusError` for an unknown code.

    >>> error_for(102)
    InsufficientBalance(stat=102, message='短信不足')
    >>> str(error_for(199, "新错误"))
    '199 新错误'
    """
    return _BY_STAT.get(stat, StatusError)(stat, message)
