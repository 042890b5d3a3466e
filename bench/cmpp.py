"""CMPP benchmark: a cmpp channel (3.0, one connection, window 16) submitting
to `hongyan smsc --protocol cmpp3` over loopback; bench/smpp.py with the
CMPP defaults, the same figures (b1_submit_per_s, b1_receipts_per_s,
b1_end_to_end_msgs_per_s), the same checks.

    .venv/bin/python bench/cmpp.py [--messages 50000] [--protocol cmpp2] [--binds 1 4]
"""

from __future__ import annotations

import sys

import smpp

DEFAULTS = ["--protocol", "cmpp3", "--binds", "1", "--window", "16"]

if __name__ == "__main__":
    # Options given here come after the defaults, so they win.
    sys.exit(smpp.main(DEFAULTS + sys.argv[1:]))
