"""Message text on the wire: GSM 03.38 or UCS2, cut into segments, UDH.

Python has no GSM 03.38 codec and the PyPI ones are unmaintained single-file
packages, so the two tables are here (3GPP TS 23.038 §6.2.1 and §6.2.1.1).

Segment sizes (3GPP TS 23.040 §9.2.3.24.1): a single message holds 160 GSM
septets or 70 UCS2 units. A concatenated part loses the UDH's room: 6 octets
with an 8-bit reference (153 septets, 67 units), 7 with a 16-bit reference
(152, 66). With SAR TLVs (SMPP 3.4 §5.3.2.22-24) the reference travels
outside the short message and a part keeps 160 / 70. With `message_payload`
(§5.3.2.32) the whole text goes in one PDU and the SMSC cuts it.
An escape pair (GSM) or a surrogate pair (UCS2) is never cut in two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hongyan.channels.smpp.constants import DataCoding

SplitMode = Literal["udh8", "udh16", "sar", "payload"]

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_ESCAPE = 0x1B
_TO_SEPTET = {ch: i for i, ch in enumerate(_BASIC) if i != _ESCAPE}
_FROM_SEPTET = {i: ch for i, ch in enumerate(_BASIC)}
_FROM_EXTENSION = {code: ch for ch, code in _EXTENSION.items()}
assert len(_BASIC) == 128

_SINGLE = {"gsm": 160, "ucs2": 70}
_PART = {
    "udh8": {"gsm": 153, "ucs2": 67},
    "udh16": {"gsm": 152, "ucs2": 66},
    "sar": {"gsm": 160, "ucs2": 70},
}


def is_gsm7(text: str) -> bool:
    return all(ch in _TO_SEPTET or ch in _EXTENSION for ch in text)


def _width(ch: str, alphabet: str) -> int:
    if alphabet == "gsm":
        return 2 if ch in _EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def segments(text: str, mode: SplitMode, gsm7: bool = True) -> list[str]:
    """The text as the channel sends it: one segment, or parts that each fit one SMS."""
    alphabet = "gsm" if gsm7 and is_gsm7(text) else "ucs2"
    widths = [_width(ch, alphabet) for ch in text]
    if sum(widths) <= _SINGLE[alphabet] or mode == "payload":
        return [text]
    return cut(text, widths, _PART[mode][alphabet])


def cut(text: str, widths: list[int], room: int) -> list[str]:
    """`text` cut into the fewest pieces of at most `room`, by each character's width."""
    parts: list[str] = []
    start = used = 0
    for i, width in enumerate(widths):
        if used + width > room:
            parts.append(text[start:i])
            start, used = i, 0
        used += width
    parts.append(text[start:])
    return parts


@dataclass(frozen=True, slots=True)
class Encoded:
    data_coding: int
    octets: bytes
    # With packed GSM-7 after a UDH: the fill bits the UDH needs (TS 23.040 §9.2.3.24).
    septets: int = 0


def encode(text: str, gsm7: bool = True, packed: bool = False, udh: bytes = b"") -> Encoded:
    """`udh + text` as short_message octets, GSM-7 when allowed and possible, else UCS2."""
    if gsm7 and is_gsm7(text):
        septets = gsm7_septets(text)
        if not packed:
            return Encoded(DataCoding.DEFAULT, udh + bytes(septets), len(septets))
        fill = (7 - (len(udh) * 8) % 7) % 7 if udh else 0
        return Encoded(DataCoding.DEFAULT, udh + pack(septets, fill), len(septets))
    return Encoded(DataCoding.UCS2, udh + text.encode("utf-16-be", "surrogatepass"))


def gsm7_septets(text: str) -> list[int]:
    out: list[int] = []
    for ch in text:
        code = _TO_SEPTET.get(ch)
        if code is None:
            out += (_ESCAPE, _EXTENSION[ch])
        else:
            out.append(code)
    return out


def pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Septets packed eight to seven octets, least significant bit first."""
    out = bytearray()
    acc, bits = 0, fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack(octets: bytes, fill_bits: int = 0) -> list[int]:
    bits = len(octets) * 8 - fill_bits
    value = int.from_bytes(octets, "little") >> fill_bits
    septets = [(value >> (7 * i)) & 0x7F for i in range(bits // 7)]
    # Seven septets leave seven spare bits in the last octet, which read as one
    # more "@" (TS 23.038 §6.1.2.3.1): a trailing "@" in that position is padding.
    if bits % 7 == 0 and septets and septets[-1] == 0:
        septets.pop()
    return septets


def gsm7_text(septets: bytes | list[int]) -> str:
    out: list[str] = []
    escaped = False
    for septet in septets:
        septet &= 0x7F
        if escaped:
            out.append(_FROM_EXTENSION.get(septet, " "))
            escaped = False
        elif septet == _ESCAPE:
            escaped = True
        else:
            out.append(_FROM_SEPTET[septet])
    return "".join(out)


def decode(data_coding: int, octets: bytes, packed: bool = False, fill_bits: int = 0) -> str:
    """Text of a short message body (without its UDH) by data_coding: SMPP 3.4
    §5.2.19 for 0x00-0x0F, the GSM 03.38 coding groups above. 8-bit data, and
    compressed text, which nobody sends, come out octet for octet (Latin-1)."""
    alphabet = _alphabet(data_coding)
    if alphabet == "ucs2":
        return octets.decode("utf-16-be", "replace")
    if alphabet == "gsm7":
        return gsm7_text(unpack(octets, fill_bits) if packed else octets)
    if data_coding == DataCoding.IA5:
        return octets.decode("ascii", "replace")
    if data_coding == 0x0F:  # GBK, as Chinese SMSCs send it (CMPP's msg_fmt 15)
        return octets.decode("gb18030", "replace")
    return octets.decode("latin-1")


def _alphabet(data_coding: int) -> str:
    """ "gsm7", "ucs2", or "" (SMPP's own values, 8-bit data, compressed)."""
    if data_coding == DataCoding.DEFAULT:
        return "gsm7"
    if data_coding == DataCoding.UCS2:
        return "ucs2"
    if data_coding < 0x10:
        return ""
    if data_coding < 0x80:
        # General data coding (0x10-0x3F) and its automatic-deletion twin
        # (0x40-0x7F): bit 5 compressed, bits 3-2 the alphabet.
        if data_coding & 0x20:
            return ""
        return {0x00: "gsm7", 0x08: "ucs2"}.get(data_coding & 0x0C, "")
    if 0xC0 <= data_coding < 0xE0:  # message waiting, discard or store: GSM-7
        return "gsm7"
    if 0xE0 <= data_coding < 0xF0:  # message waiting, store: UCS2
        return "ucs2"
    if data_coding >= 0xF0:  # data coding / message class: bit 2 is 8-bit data
        return "" if data_coding & 0x04 else "gsm7"
    return ""


# -- user data header (TS 23.040 §9.2.3.24) ---------------------------------------


def concat_udh(reference: int, total: int, seq: int, wide: bool = False) -> bytes:
    """The concatenation UDH: IEI 0x00 (8-bit reference) or 0x08 (16-bit)."""
    if wide:
        return bytes((6, 0x08, 4, (reference >> 8) & 0xFF, reference & 0xFF, total, seq))
    return bytes((5, 0x00, 3, reference & 0xFF, total, seq))


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    seq: int


def split_udh(short_message: bytes) -> tuple[Concat | None, bytes, int]:
    """(concatenation info if any, the text octets, UDH length in octets) of a UDHI message."""
    if not short_message:
        return None, b"", 0
    size = short_message[0] + 1
    if size > len(short_message):
        return None, short_message, 0
    header = short_message[1:size]
    concat: Concat | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3 and len(value) == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4 and len(value) == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        pos += 2 + length
    return concat, short_message[size:], size
