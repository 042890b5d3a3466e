"""One exception root for the whole platform.

    HongyanError
    ├── ConfigError          settings that cannot be used (bad TOML, bad value)
    ├── StoreError           the database failed or is unreachable
    │   └── DataConflict     stored data breaks a rule (colliding extension codes)
    ├── Rejected             a customer request refused with a protocol stat code
    └── OperatorError        an operator command with bad input
        ├── NotFound         unknown account, keyword, address
        ├── InvalidInput     a value out of range or malformed
        └── Forbidden        the operator's role does not allow the action

Errors become wire codes in one place per protocol: `Rejected.stat` is the
sms.cn stat code (rendered by `hongyan.protocol.render`), `OperatorError` is a
CLI exit status 1 with its message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hongyan.protocol.dialect import Dialect
    from hongyan.protocol.stat import Stat


class HongyanError(Exception):
    """Root of every error hongyan raises on purpose."""


class ConfigError(HongyanError):
    """The settings cannot be used."""


class StoreError(HongyanError):
    """The database failed; the request is answered with stat 103."""


class DataConflict(StoreError):
    """What is stored breaks a rule the platform relies on; an operator must
    fix it before the platform starts (e.g. one extension code begins another)."""


class Rejected(HongyanError):
    """A customer request refused with a protocol stat code.

    `dialect` is the answer dialect of the account the uid names (None when
    it names none: the answer is then in the standard form)."""

    def __init__(self, stat: Stat, detail: str = "", *, dialect: Dialect | None = None) -> None:
        super().__init__(f"{int(stat)} {detail}".strip())
        self.stat = stat
        self.detail = detail
        self.dialect = dialect


class OperatorError(HongyanError):
    """An operator command that cannot be carried out as given."""


class NotFound(OperatorError):
    """The named account or item does not exist."""


class InvalidInput(OperatorError):
    """A value that is malformed or out of range."""


class Forbidden(OperatorError):
    """The operator's role does not allow this action (core/roles.py)."""
