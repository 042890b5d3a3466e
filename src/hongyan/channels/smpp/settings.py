"""An SMPP channel's settings, as written in the TOML file:

[[channels]]
kind = "smpp"
name = "carrier-a"
host = "smsc.example.net"
port = 2775
system_id = "hongyan"
password = "secret"
binds = 2                 # connections (each a transceiver, or a tx + rx pair)
bind_mode = "transceiver" # or "tx_rx"
window = 32               # requests in flight per connection
tps = 200                 # parts a second over the whole channel
split = "udh8"            # "udh16", "sar" or "payload"
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hongyan.channels.smpp.receipt import IdBase
from hongyan.channels.smpp.text import SplitMode


class SmppSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    kind: Literal["smpp"] = "smpp"
    name: str
    host: str = "127.0.0.1"
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(max_length=15)
    password: str = Field(default="", max_length=8, repr=False)
    system_type: str = Field(default="", max_length=12)
    address_range: str = Field(default="", max_length=40)
    binds: int = Field(default=1, ge=1, le=64)
    bind_mode: Literal["transceiver", "tx_rx"] = "transceiver"
    window: int = Field(default=32, ge=1, le=1024)
    tps: float | None = Field(default=None, gt=0)

    # Addresses. An empty `source_addr` sends the platform's gateway number
    # with the account's extension; otherwise this number (a short code or an
    # alphanumeric sender), followed by the extension when `append_extension`.
    source_addr: str = Field(default="", max_length=20)
    append_extension: bool = True
    source_ton: int | None = Field(default=None, ge=0, le=255)  # None: from the address
    source_npi: int | None = Field(default=None, ge=0, le=255)
    dest_ton: int = Field(default=0, ge=0, le=255)
    dest_npi: int = Field(default=1, ge=0, le=255)
    dest_prefix: str = ""  # put before each number, e.g. "86"; taken off replies' numbers
    service_type: str = Field(default="", max_length=5)

    # Text.
    gsm7: bool = True  # GSM-7 when the text allows it, else UCS2
    gsm7_packed: bool = False
    split: SplitMode = "udh8"

    # Message ids: the base of submit_sm_resp's id (and receipted_message_id)
    # and of the receipt text's `id:`.
    submit_id_base: IdBase = "text"
    receipt_id_base: IdBase = "text"

    # Timers and recovery.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    response_timeout_s: float = Field(default=10.0, gt=0)
    enquire_link_s: float = Field(default=30.0, gt=0)
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    throttle_pause_s: float = Field(default=0.5, gt=0)
    throttle_pause_max_s: float = Field(default=10.0, gt=0)
    bind_wait_s: float = Field(default=2.0, ge=0)
