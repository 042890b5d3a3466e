"""A CMPP channel's settings, as written in the TOML file, named after what a
carrier (China Mobile's ISMG, or an aggregator speaking CMPP) hands an SP:

[[channels]]
kind = "cmpp"
name = "cmcc-gd"
version = "3.0"           # or "2.0": the protocol version the gateway speaks
host = "ismg.example.cn"
port = 7890
sp_id = "901234"          # 企业代码: Source_Addr of CMPP_CONNECT, and Msg_src
secret = "…"              # 共享密钥: the shared secret of the authenticators
src_id = "1069012345"     # 接入号: the access number handsets see, before extensions
service_id = "MHY0019901" # 业务代码
fee_user_type = 2         # who pays: 0 the handset, 1 the sender, 2 the SP, 3 Fee_terminal_Id
fee_type = "01"           # 资费类别: 01 free, 02 per message, 03 monthly, 04 capped
fee_code = "000000"       # 资费代码, in fen
binds = 1                 # connections the carrier allows
window = 16               # SUBMITs awaiting their response, per connection
tps = 100                 # parts a second over the whole channel
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hongyan.channels.cmpp.pdu import V2, V3

# Octet strings are ASCII on the wire (codec.py); a setting that is not could
# only fail each SUBMIT or login later.
_ASCII = r"^[\x20-\x7e]*$"
_DIGITS = r"^[0-9]*$"


class CmppSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    kind: Literal["cmpp"] = "cmpp"
    name: str
    version: Literal["2.0", "3.0"] = "3.0"
    host: str = "127.0.0.1"
    port: int = Field(default=7890, ge=1, le=65535)
    sp_id: str = Field(min_length=1, max_length=6, pattern=r"^[\x21-\x7e]+$")
    secret: str = Field(default="", max_length=64, pattern=_ASCII, repr=False)
    binds: int = Field(default=1, ge=1, le=64)
    window: int = Field(default=16, ge=1, le=1024)
    tps: float | None = Field(default=None, gt=0)

    # What each SUBMIT says about the sender and the fee.
    src_id: str = Field(default="", max_length=21, pattern=_DIGITS)  # empty: gateway_prefix
    append_extension: bool = True  # the account's extension code after src_id
    service_id: str = Field(default="", max_length=10, pattern=_ASCII)
    msg_src: str = Field(default="", max_length=6, pattern=_ASCII)  # empty: sp_id
    fee_user_type: int = Field(default=2, ge=0, le=3)
    fee_terminal_id: str = Field(default="", max_length=21, pattern=_DIGITS)
    fee_type: str = Field(default="01", min_length=2, max_length=2, pattern=_DIGITS)
    fee_code: str = Field(default="000000", max_length=6, pattern=_DIGITS)
    link_id: str = Field(default="", max_length=20, pattern=_ASCII)  # 3.0: on-demand services
    msg_level: int = Field(default=0, ge=0, le=9)
    dest_prefix: str = Field(default="", max_length=4, pattern=_DIGITS)  # e.g. "86"; taken
    # off replies' numbers

    # Text: "ucs2" for all but pure ASCII (Msg_Fmt 0), "gbk" (Msg_Fmt 15) where
    # the gateway asks for it, falling back to UCS2 for what GBK cannot write.
    coding: Literal["ucs2", "gbk"] = "ucs2"

    # Timers and recovery.
    verify_ismg: bool = True  # check the gateway's AuthenticatorISMG
    connect_timeout_s: float = Field(default=5.0, gt=0)
    response_timeout_s: float = Field(default=10.0, gt=0)
    active_test_s: float = Field(default=30.0, gt=0)
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    throttle_pause_s: float = Field(default=0.5, gt=0)
    throttle_pause_max_s: float = Field(default=10.0, gt=0)
    bind_wait_s: float = Field(default=2.0, ge=0)

    @property
    def version_octet(self) -> int:
        return V3 if self.version == "3.0" else V2
