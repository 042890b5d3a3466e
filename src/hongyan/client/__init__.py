"""A Python SDK for the api.sms.cn customer protocol, against hongyan or any server speaking it.

    >>> from hongyan.client import SmsClient, SmsApiError
    >>> with SmsClient("http://127.0.0.1:8080", "test", "123123") as sms:
    ...     result = sms.send(["13900008888", "13900009999"], "您的验证码是 1234")
    ...     sms.balance()
    998

`AsyncSmsClient` is the same with `await`. Answers (GBK on the wire) are read
for you; refusals raise one exception class per stat code, all under
`SmsApiError` (see `hongyan.client.errors`). The SDK imports nothing else of
hongyan: it is a plain client of the protocol.
"""

from hongyan.client.aio import AsyncSmsClient
from hongyan.client.calls import MAX_NUMBERS, api_password
from hongyan.client.errors import (
    STAT_TEXTS,
    AccountFrozen,
    AccountLocked,
    ApiSendingDisabled,
    AuthFailed,
    BadNumber,
    BadScheduleTime,
    ContentTooLong,
    EmptyNumberOrContent,
    IllegalCharacters,
    InsufficientBalance,
    IpNotBound,
    Maintenance,
    NoChannel,
    OperationFailed,
    PerNumberLimited,
    RateLimited,
    SendingPaused,
    SmsApiError,
    StatusError,
    TooManyNumbers,
    TransportError,
    UnexpectedAnswer,
)
from hongyan.client.models import Record, RecordPage, Reply, SendResult, StatusReport
from hongyan.client.parse import BEIJING
from hongyan.client.sync import SmsClient

__all__ = [
    "BEIJING",
    "MAX_NUMBERS",
    "STAT_TEXTS",
    "AccountFrozen",
    "AccountLocked",
    "ApiSendingDisabled",
    "AsyncSmsClient",
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
    "Record",
    "RecordPage",
    "Reply",
    "SendResult",
    "SendingPaused",
    "SmsApiError",
    "SmsClient",
    "StatusError",
    "StatusReport",
    "TooManyNumbers",
    "TransportError",
    "UnexpectedAnswer",
    "api_password",
]
