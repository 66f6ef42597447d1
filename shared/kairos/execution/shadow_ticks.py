"""SHADOW's resting orders re-evaluated on every ticker of their symbol, not once a minute.

A venue triggers a stop the moment its price crosses it; SHADOW decides only when it looks.
So every ``norm.ticker`` (about every 5 s per subscribed symbol) makes the reconciler fetch
the SHADOW orders resting on that venue and symbol, through the same per-order path as its
minute's run (``OrderReconciler.run_orders``): the per-order lock, the order's transitions,
its fills once per trade id, ``exec.fill`` to the outbox for the portfolio. A symbol with
no resting SHADOW order costs one indexed read and no venue request.

The ticker only says *when* to look, not *at what price*: each fetch evaluates the order at
the adapter's own reading of the venue's public last price, as the submit and the minute's
run do. So every SHADOW fill comes from one price source whichever path evaluated it, and a
late or redelivered ticker can never fill an order at a price the market has since left.

A ticker older than ``MAX_AGE`` is not acted on: the minute's run has looked since. That keeps
a backlog (a new consumer group starting from the earliest offset, a consumer catching up
after an outage) from turning into a burst of venue price requests for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from kairos.contracts.market_data import Ticker
from kairos.execution import repository as repo
from kairos.execution.reconcile import OrderReconciler
from kairos.runtime.recorder import OutboxRow

log = logging.getLogger(__name__)

# The minute run's period: a ticker older than this is covered by a run that came after it.
MAX_AGE = timedelta(seconds=60)


def on_ticker(reconciler: OrderReconciler, ticker: Ticker, publish: Callable[[Sequence[OutboxRow]], None]) -> int:
    """Re-evaluate the SHADOW orders resting on the ticker's symbol; hand what they caused
    (order events, fills) to ``publish`` once committed. Returns the orders looked at."""
    if datetime.now(UTC) - ticker.exchange_time > MAX_AGE:
        log.debug("stale ticker: the minute's run covers it", extra={"symbol": ticker.symbol})
        return 0
    with reconciler.service.pool.connection() as conn:
        orders = repo.resting_shadow(conn, ticker.venue, ticker.symbol)
    if not orders:
        return 0
    report = reconciler.run_orders(orders)
    publish(report.outbox_rows)
    log.info(
        "SHADOW orders re-evaluated on a ticker",
        extra={
            "venue": ticker.venue,
            "symbol": ticker.symbol,
            "checked": report.checked,
            "corrected": report.corrected,
            "busy": report.skipped_busy,
            "failed": report.query_failures,
        },
    )
    return report.checked
