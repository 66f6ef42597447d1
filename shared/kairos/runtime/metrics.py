"""Prometheus metrics every function exposes on its HTTP port at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "kairos_events_total",
    "Events a function answered, by outcome (handled, duplicate, rejected, failed).",
    ["function", "outcome"],
)
EMITTED = Counter("kairos_events_emitted_total", "Events a function wrote to its outbox.", ["function"])
IN_FLIGHT = Gauge("kairos_events_in_flight", "Events being handled right now.", ["function"])
HANDLING = Histogram(
    "kairos_event_handling_seconds",
    "Time from receiving an event to answering it.",
    ["function"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PUBLISH_FAILURES = Counter(
    "kairos_publish_failures_total", "After-commit publishes that failed (the relay sends them).", ["function"]
)
