"""CMPP 2.0 and 3.0 (China Mobile Peer to Peer): codec, channel, gateway simulator."""
