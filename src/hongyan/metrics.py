"""Prometheus metrics. With several worker processes the multiprocess mode of
prometheus-client is used (PROMETHEUS_MULTIPROC_DIR, set by `hongyan serve`)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "hongyan_api_requests_total",
    "Customer API requests by endpoint and stat code",
    ["endpoint", "stat"],
)
LATENCY = Histogram(
    "hongyan_api_request_seconds",
    "Customer API request latency",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
HTTP_REFUSED = Counter(
    "hongyan_http_refused_total",
    "Requests and connections refused at the HTTP front door, by reason (api/door.py)",
    ["reason"],
)
MESSAGES_ACCEPTED = Counter(
    "hongyan_messages_accepted_total", "Messages accepted for delivery (charged)"
)
MESSAGES_REFUSED = Counter(
    "hongyan_messages_refused_total",
    "Numbers refused at acceptance with a failed report",
    ["reason"],
)
REPLIES = Counter("hongyan_replies_received_total", "Replies (MO) received", ["outcome"])
QUEUE_DEPTH = Gauge(
    "hongyan_queue_depth",
    "Messages waiting: queued (to submit) or sent (awaiting receipts)",
    ["state"],
    multiprocess_mode="max",
)
SUBMITS = Counter(
    "hongyan_submits_total",
    "Message parts submitted upstream, by channel and outcome",
    ["channel", "outcome"],
)
RECEIPT_LATENCY = Histogram(
    "hongyan_receipt_latency_seconds",
    "From a part's submit to its delivery receipt",
    ["channel"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)
PUSH_ATTEMPTS = Counter(
    "hongyan_push_attempts_total",
    "Reports and replies pushed to customers' servers, by kind and outcome",
    ["kind", "outcome"],
)
PUSH_GIVEN_UP = Counter(
    "hongyan_push_given_up_total",
    "Pushed items given up after retrying (handed to /st/ or /rx/ instead)",
    ["kind"],
)
PUSH_OLDEST_AGE = Gauge(
    "hongyan_push_oldest_queued_seconds",
    "Age of the oldest report or reply waiting to be pushed (0 when none)",
    multiprocess_mode="max",
)
PUSH_HELD = Gauge(
    "hongyan_push_held",
    "Items this process holds to push (claimed, waiting or in flight)",
    multiprocess_mode="sum",
)
PARTS_CHARGED = Counter("hongyan_parts_charged_total", "Billing parts charged at acceptance")


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
