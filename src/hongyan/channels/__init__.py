"""Upstream connectors: one `Channel` protocol (base.py), and its implementations."""
