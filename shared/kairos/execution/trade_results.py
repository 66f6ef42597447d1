"""The ``trade_results`` table: one queryable row per command's trade result.

Keyed by command id, so a result seen again (a redelivery, or the paper executor answering
a repeated command with its stored result) changes nothing.
"""

from __future__ import annotations

import psycopg
from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import TradeResult

INSERT = """
INSERT INTO trade_results (command_id, event_id, correlation_id, account, venue, symbol, side, status,
                           requested_quantity, filled_quantity, average_price, fee, reason, mode, executed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (command_id) DO NOTHING
"""


def record(conn: psycopg.Connection, event: Envelope[TradeResult]) -> bool:
    """Store ``event``'s result; False when this command's result was stored before."""
    r = event.data
    cur = conn.execute(
        INSERT,
        (
            r.command_id, event.meta.id, event.meta.correlation_id, r.account, r.venue, r.symbol, r.side, r.status,
            r.requested_quantity, r.filled_quantity, r.average_price, r.fee, r.reason, r.mode, r.executed_at,
        ),
    )
    return cur.rowcount == 1
