"""The api.sms.cn wire format: parameter decoding, stat codes, renderers. No I/O."""
