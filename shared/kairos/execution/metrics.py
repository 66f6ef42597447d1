"""The execution path's Prometheus metrics (exported on the executor's, reconciler's and clock
guard's ``/metrics``; the platform's Prometheus scrapes every function).

- ``kairos_orders_total{venue, outcome}``: order submissions by what the venue answered:
  ``accepted`` (an order exists at the venue), ``rejected`` (refused, with a reason),
  ``unknown`` (no answer we can trust: the order is resolved by asking the venue later).
- ``kairos_order_submit_seconds{venue}``: send to answer, for every submission above.
- ``kairos_reconciliation_errors_total{kind}``: what a reconciliation tick found wrong (an
  alert code such as ``ORPHAN_ORDER``) or could not do (``venue_unavailable``,
  ``keys_unavailable``: an account it could not read).
- ``time_drift_seconds{account}``: the venue's clock minus ours, as last measured (clock
  guard every minute, and the executor once at start-up).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ORDERS = Counter("kairos_orders_total", "Order submissions to a venue, by the venue's answer", ["venue", "outcome"])
SUBMIT_SECONDS = Histogram(
    "kairos_order_submit_seconds",
    "Time from sending an order to a venue to its answer",
    ["venue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RECONCILIATION_ERRORS = Counter(
    "kairos_reconciliation_errors_total",
    "Reconciliation findings (alert code) and accounts a tick could not read",
    ["kind"],
)
TIME_DRIFT = Gauge("time_drift_seconds", "The venue's clock minus ours, as last measured", ["account"])
