"""SMPP 3.4: codec (pdu.py), text, receipts, the ESME session and channel, the SMSC simulator."""
