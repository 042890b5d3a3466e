"""Cutting a TCP byte stream into frames that begin with their own length, as
SMPP's and CMPP's PDUs do (a 4-octet big-endian length that counts itself)."""

from __future__ import annotations


class FrameError(Exception):
    """The stream announced an impossible length: it cannot be followed further."""


class Framer:
    def __init__(self, min_size: int, max_size: int) -> None:
        self._buffer = bytearray()
        self._min = min_size
        self._max = max_size

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def frames(self) -> list[bytes]:
        """Every whole frame received so far; FrameError on an impossible length."""
        buffer = self._buffer
        found: list[bytes] = []
        pos = 0
        while len(buffer) - pos >= 4:
            length = int.from_bytes(buffer[pos : pos + 4], "big")
            if length < self._min or length > self._max:
                del buffer[:pos]
                raise FrameError(f"command_length {length}")
            if len(buffer) - pos < length:
                break
            found.append(bytes(buffer[pos : pos + length]))
            pos += length
        del buffer[:pos]
        return found
