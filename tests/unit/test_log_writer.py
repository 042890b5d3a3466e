"""The log writer (hongyan.logs.BatchingHandler): lines leave the serving
thread as records and are written, in order and whole, on a thread of their own."""

from __future__ import annotations

import io
import json
import logging

from hongyan.logs import BatchingHandler, JsonFormatter


def _logger(stream: io.StringIO) -> tuple[logging.Logger, BatchingHandler]:
    handler = BatchingHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.Logger("test.batching")
    logger.addHandler(handler)
    return logger, handler


def test_every_line_is_written_in_order_by_close() -> None:
    stream = io.StringIO()
    logger, handler = _logger(stream)
    for i in range(10_000):
        logger.info("line %d", i, extra={"uid": f"u{i}"})
    handler.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == [f"line {i}" for i in range(10_000)]
    assert lines[7]["uid"] == "u7" and list(lines[7])[:4] == ["ts", "level", "logger", "msg"]


def test_arguments_and_exceptions_are_read_when_logged() -> None:
    """The line says what was true at the call, though it is written later."""
    stream = io.StringIO()
    logger, handler = _logger(stream)
    numbers = [1]
    logger.info("numbers %s", numbers)
    numbers.append(2)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    handler.close()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "numbers [1]"
    assert second["msg"] == "failed" and "ValueError: boom" in second["exc"]
