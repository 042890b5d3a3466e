"""Texts as CMPP carries them: Msg_Fmt 0 (ASCII, one octet a character),
8 (UCS2, big-endian), 15 (GBK); 140 octets a SUBMIT, 134 beside the 6-octet
concatenation header of a long message's parts (TP_udhi 1)."""

from __future__ import annotations

from hongyan.channels.cmpp.pdu import MsgFmt
from hongyan.channels.smpp.text import concat_udh, cut, split_udh

__all__ = ["concat_udh", "decode", "encode", "segments", "split_udh"]

SINGLE = 140
PART = 134  # 140 less the UDH 05 00 03 ref total seq


def segments(text: str, coding: str) -> list[str]:
    """The text cut as the channel sends it: one SUBMIT, or parts that each fit one."""
    if text.isascii():
        widths = [1] * len(text)
    elif coding == "gbk" and _gbk(text) is not None:
        widths = [len(ch.encode("gbk")) for ch in text]
    else:  # UCS2: two octets a character, four for one past U+FFFF
        widths = [4 if ord(ch) > 0xFFFF else 2 for ch in text]
    if sum(widths) <= SINGLE:
        return [text]
    return cut(text, widths, PART)


def encode(text: str, coding: str) -> tuple[int, bytes]:
    """(Msg_Fmt, octets) of one segment."""
    if text.isascii():
        return MsgFmt.ASCII, text.encode("ascii")
    if coding == "gbk" and (octets := _gbk(text)) is not None:
        return MsgFmt.GBK, octets
    return MsgFmt.UCS2, text.encode("utf-16-be")


def decode(msg_fmt: int, octets: bytes) -> str:
    """The text of a received Msg_Content; never fails (bad octets become U+FFFD)."""
    if msg_fmt == MsgFmt.UCS2:
        return octets[: len(octets) // 2 * 2].decode("utf-16-be", "replace")
    if msg_fmt == MsgFmt.GBK:
        return octets.decode("gbk", "replace")
    if msg_fmt == MsgFmt.ASCII:
        return octets.decode("latin-1")
    # Binary, write-card or unknown: handsets' replies in the wild are GBK more often than not.
    return octets.decode("gbk", "replace")


def _gbk(text: str) -> bytes | None:
    try:
        return text.encode("gbk")
    except UnicodeEncodeError:
        return None
