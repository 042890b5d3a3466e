"""Delivery: claim due messages → route → submit within the channel's limits → record."""
