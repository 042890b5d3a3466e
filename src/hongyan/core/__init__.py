"""The domain: numbers, content, schedules, limits, credentials and the use cases.

Everything here but `service.py` is pure; `service.py` coordinates the store.
"""
