"""hongyan (鸿雁): an SMS gateway platform speaking the api.sms.cn customer protocol."""

__version__ = "0.1.0"
