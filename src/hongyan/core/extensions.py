"""Extension codes: the digits after the gateway prefix that name an account.

A handset replies to `gateway_prefix + code + mid`; the reply belongs to the
account whose code begins the part after the prefix, and `mid` (up to 6
digits) is the rest (PROTOCOL.md "/rx/", "/mt/ send" `mid`).

**Codes are prefix-free**: no code begins another. Then at most one code
begins any number, so a reply has one owner or none, and no `mid` can make
one account's gateway number another's (code A + mid = code B + mid' would
make A a prefix of B or B of A). The earlier allocator gave `%04d` of the
account id: past 9999 accounts `1000` began `10000`, and replies to account
10000 went to whichever code matched longest, other customers' included.

**Allocation** hands out codes by tiers, each marked by its leading nines:

    4 digits   0001 - 8999        first digit 0-8      8,999 codes
    6 digits   900000 - 989999    9, then 0-8          90,000 codes
    8 digits   99000000 - 99899999  99, then 0-8       900,000 codes

A code's width follows from its leading digits, so two tiers never collide,
and within a tier codes have one width. The first tier is what the earlier
allocator gave the first 8,999 accounts. Codes already in use from it (9000 to
9999 included) stay: a candidate that begins, or is begun by, a code in use is
skipped, so allocation keeps the set prefix-free whatever it holds.

**Widths** (checked for the default 5-digit prefix `10690`): the longest
gateway number is 5 + 8 + 6 = 19 digits, within the 20 that SMPP 3.4 carries
in `source_addr` (§4.4.1: C-Octet String of at most 21 octets with its NUL) and
the 21 of CMPP's Src_Id; `submissions.source` holds code + mid, at most 14 of
its 21; `accounts.ext_code` holds 12. A prefix longer than 6 digits leaves
fewer than 6 for `mid` with an 8-digit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LONGEST = 12  # accounts.ext_code is String(12)
MID_DIGITS = 6  # PROTOCOL.md "/mt/ send": `mid`, up to 6 digits


# -- composition: gateway prefix + code + mid ------------------------------------------


def is_mid(mid: str) -> bool:
    """Whether `mid` may follow a code: 0 to 6 ASCII digits."""
    return len(mid) <= MID_DIGITS and (not mid or (mid.isascii() and mid.isdigit()))


def extension(code: str, mid: str = "") -> str:
    """The part of an account's gateway number after the prefix: its code, then `mid`
    (what a message is sent from, `submissions.source`)."""
    return code + mid


def gateway_number(prefix: str, extension: str) -> str:
    """The whole number a handset sees and replies to."""
    return prefix + extension


def extension_of(gateway: str, prefix: str) -> str | None:
    """The part of a gateway number after `prefix`; None when it does not begin with it."""
    return gateway[len(prefix) :] if gateway.startswith(prefix) else None


# -- allocation ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    width: int
    first: int
    last: int

    def code(self, number: int) -> str:
        return f"{number:0{self.width}d}"


TIERS = (
    Tier(4, 1, 8_999),
    Tier(6, 900_000, 989_999),
    Tier(8, 99_000_000, 99_899_999),
)


def collide(a: str, b: str) -> bool:
    """Whether one code begins the other (or they are equal)."""
    return a.startswith(b) or b.startswith(a)


def allowed(candidate: str, in_use: Iterable[str]) -> bool:
    """Whether `candidate` can be given while `in_use` are: no code begins it,
    and it begins none."""
    return (
        candidate.isascii()
        and candidate.isdigit()
        and not any(collide(candidate, code) for code in in_use)
    )


def prefixes(extension: str) -> list[str]:
    """Every code that could begin `extension`: its first 1 to 12 digits."""
    return [extension[:n] for n in range(1, min(len(extension), LONGEST) + 1)]


def first_candidate(tier: Tier, highest: str | None) -> str | None:
    """Where to look in `tier`: after its highest code in use, or at its start."""
    number = tier.first if highest is None else int(highest) + 1
    return tier.code(number) if number <= tier.last else None


def next_candidate(tier: Tier, candidate: str, in_the_way: Iterable[str]) -> str | None:
    """The next candidate of `tier` after `candidate`, given the codes in use that
    collide with it: past every number a shorter one begins (`9123` in use
    rules out 912300-912399 at once), else the next number."""
    number = int(candidate) + 1
    for code in in_the_way:
        if len(code) < tier.width and candidate.startswith(code):
            number = max(number, (int(code) + 1) * 10 ** (tier.width - len(code)))
    return tier.code(number) if number <= tier.last else None


def split(extension: str, codes: Iterable[str]) -> tuple[str, str] | None:
    """`extension` (the gateway number after its prefix) as (code, mid), given
    the codes in use that begin it; None when none does, or when more than one
    does (codes that are not prefix-free: the reply's owner is unknown)."""
    owners = {code for code in codes if extension.startswith(code)}
    if len(owners) != 1:
        return None
    (code,) = owners
    return code, extension[len(code) :]


def collisions(codes: Iterable[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """Every pair of (name, code) whose codes collide, as (name, code, name, code)
    with the shorter code first. Sorted, a code is followed at once by every
    code it begins, so one pass over neighbours finds them all."""
    ordered = sorted(codes, key=lambda item: item[1])
    found = []
    for i, (name, code) in enumerate(ordered):
        for other_name, other in ordered[i + 1 :]:
            if not other.startswith(code):
                break
            found.append((name, code, other_name, other))
    return found
