"""The answer dialects of the protocol family (PROTOCOL.md "Legacy dialect").

`standard` is the document's own form (`sms&stat=100&remain=N`); `legacy` is
the sister platform's, which many deployed clients were written for
(`/mm/` read as `100||N`). The operator sets it per account; how each
endpoint answers in each dialect is in `hongyan.protocol.render`.
"""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    STANDARD = "standard"
    LEGACY = "legacy"
