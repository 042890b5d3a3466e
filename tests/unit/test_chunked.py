"""Where a chunked body ends (api/framing.ChunkedReader), checked against h11,
an HTTP/1.1 parser we did not write, however the bytes are cut into reads."""

from __future__ import annotations

import itertools

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hongyan.api.framing import CHUNK_LINE_MAX, ChunkedReader
from hongyan.api.limits import HttpSettings

LIMITS = HttpSettings()
NEXT = b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
HEAD = b"POST /mt/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


def scan_in_reads(body_and_more: bytes, cuts: list[int]) -> int | None:
    """Where the body ends in `body_and_more`, fed in reads cut at `cuts`; None if refused."""
    reader = ChunkedReader(LIMITS)
    edges = [0, *sorted({c for c in cuts if 0 < c < len(body_and_more)}), len(body_and_more)]
    seen = 0
    for start, end in itertools.pairwise(edges):
        took = reader.scan(body_and_more[start:end])
        if took is None:
            return None
        seen += took
        if reader.done:
            assert took <= end - start
            return seen
        assert took == end - start  # all of a read is the body's until its end
    return None


def h11_body_end(body_and_more: bytes) -> int:
    """Where h11 says the chunked body ends: the bytes it left for the next request."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(HEAD + body_and_more)
    while True:
        event = server.next_event()
        if isinstance(event, h11.EndOfMessage):
            return len(body_and_more) - len(server.trailing_data[0])
        assert event is not h11.NEED_DATA, "h11 wants more: the body did not end"


def chunked(pieces: list[bytes], extension: bytes = b"", trailers: bytes = b"") -> bytes:
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), extension, p) for p in pieces if p)
    return body + b"0" + extension + b"\r\n" + trailers + b"\r\n"


@given(
    pieces=st.lists(st.binary(max_size=300), max_size=6),
    extension=st.sampled_from([b"", b";name=value", b";a;b=c"]),
    trailers=st.sampled_from([b"", b"X-Checksum: 1\r\n", b"A: 1\r\nB: 2\r\n"]),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_the_end_is_where_h11_finds_it_however_the_reads_are_cut(
    pieces: list[bytes], extension: bytes, trailers: bytes, cuts: list[int]
) -> None:
    body = chunked(pieces, extension, trailers)
    assert scan_in_reads(body + NEXT, cuts) == h11_body_end(body + NEXT) == len(body)


@pytest.mark.parametrize("cut", range(1, 40))
def test_a_read_may_end_anywhere_even_between_cr_and_lf(cut: int) -> None:
    body = chunked([b"hello", b"world!"], trailers=b"T: v\r\n")
    assert scan_in_reads(body + NEXT, [cut]) == len(body)


def test_bare_lf_line_ends_are_read_as_the_parser_reads_them() -> None:
    body = b"5\nhello\n0\n\n"
    assert scan_in_reads(body + NEXT, []) == len(body)


def test_a_body_not_ended_yet_is_all_the_bodys() -> None:
    reader = ChunkedReader(LIMITS)
    assert reader.scan(b"10\r\n0123456789") == 14
    assert not reader.done
    assert reader.scan(b"abcdef\r\n0\r\n") == 11
    assert not reader.done  # the blank line after the trailer fields is still to come
    assert reader.scan(b"\r\nGET") == 2
    assert reader.done


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"\r\nhello\r\n0\r\n\r\n",  # no size
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",  # data longer than its size
        b"1" * 16 + b"\r\n",  # a size no body has
        b"5" + b";x" * CHUNK_LINE_MAX + b"\r\n",  # a size line past its bound
    ],
)
def test_what_cannot_be_a_chunked_body_is_refused(body: bytes) -> None:
    assert scan_in_reads(body + NEXT, []) is None


def test_a_size_line_that_never_ends_is_refused_once_past_its_bound() -> None:
    reader = ChunkedReader(LIMITS)
    assert reader.scan(b"5" + b" " * 100) == 101
    assert reader.scan(b" " * CHUNK_LINE_MAX) is None


def test_trailer_fields_are_bounded_like_header_fields() -> None:
    reader = ChunkedReader(LIMITS)
    assert reader.scan(b"0\r\n") == 3
    field = b"X-T: " + b"v" * 1000 + b"\r\n"
    results = [reader.scan(field) for _ in range(LIMITS.max_header_bytes // len(field) + 1)]
    assert results[-1] is None
    assert not reader.done
