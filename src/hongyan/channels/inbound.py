"""A handset's reply as any carrier protocol hands it over, made ours: the
number without the carrier's country prefix, the number it was sent to in
the platform's own terms (the carrier's access number swapped for
`gateway_prefix`, the account's extension kept), and whether it is a whole
reply or one part of a long one."""

from __future__ import annotations

from hongyan.channels.base import InboundFragment, InboundReply
from hongyan.channels.smpp.text import Concat
from hongyan.core import extensions


def reply(
    source: str,
    destination: str,
    content: str,
    concat: Concat | None,
    *,
    dest_prefix: str,
    carrier_number: str,
    gateway_prefix: str,
    now: int,
) -> InboundReply | InboundFragment:
    mobile = source.removeprefix("+")
    if dest_prefix:
        mobile = mobile.removeprefix(dest_prefix)
    gateway = destination
    extension = extensions.extension_of(gateway, carrier_number) if carrier_number else None
    if extension is not None:
        gateway = extensions.gateway_number(gateway_prefix, extension)
    if concat is not None and 1 <= concat.seq <= concat.total and concat.total > 1:
        return InboundFragment(
            mobile, gateway, concat.reference, concat.total, concat.seq, content, now
        )
    return InboundReply(mobile, gateway, content, now)
