"""Which channel takes a message.

For now every message goes to the fallback channel; routes by carrier of the
number and by account come with the route list in the settings.
"""

from __future__ import annotations

from hongyan.store.delivery import Claimed


class Router:
    def __init__(self, fallback: str) -> None:
        self.fallback = fallback

    def route(self, message: Claimed) -> str:
        return self.fallback
