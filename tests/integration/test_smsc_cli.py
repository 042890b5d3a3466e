"""`hongyan smsc` from the command line: the accounts it lets bind."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hongyan.channels.smpp.codec import (
    decode,
    encode,
)
from hongyan.channels.smpp.constants import CommandStatus
from hongyan.channels.smpp.pdu import (
    BindTransceiver,
)
from tests.integration.test_serve import free_port
from tests.peers.control import stop_process
from tests.waiting import WAIT_S

SMSC = (sys.executable, "-m", "hongyan", "smsc", "--quiet", "--control-port", "0")


@pytest.fixture
def smsc_port() -> Iterator[int]:
    port = free_port()
    command = [*SMSC, "--port", str(port), "--account", "second:pw2", "--account", "third:"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "SMSC listening" in banner, banner
        assert "hongyan, second, third" in banner
        yield port
    finally:
        stop_process(proc)
        proc.communicate()


def bind(port: int, system_id: str, password: str) -> int:
    """The command_status of a bind_transceiver with these credentials."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(encode(BindTransceiver(sequence=1, system_id=system_id, password=password)))
        head = sock.recv(4, socket.MSG_WAITALL)
        rest = sock.recv(int.from_bytes(head, "big") - 4, socket.MSG_WAITALL)
    return decode(head + rest).status


def test_every_account_given_may_bind_and_no_other(smsc_port: int) -> None:
    assert bind(smsc_port, "hongyan", "secret") == 0
    assert bind(smsc_port, "second", "pw2") == 0
    assert bind(smsc_port, "third", "") == 0
    assert bind(smsc_port, "second", "secret") == CommandStatus.ESME_RINVPASWD
    assert bind(smsc_port, "fourth", "pw2") == CommandStatus.ESME_RINVSYSID


def test_an_account_without_its_password_part_is_refused() -> None:
    done = subprocess.run(
        [*SMSC, "--port", str(free_port()), "--account", "lonely"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert done.returncode == 1
    assert "SYSTEM_ID:PASSWORD" in done.stderr + done.stdout
