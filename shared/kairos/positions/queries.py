"""SQL the integration runs against the positions tables (migration ``0010_positions.sql``):
text only, no driver, no I/O.

Kept in one place so the functions, the tests and the benchmark use one text.
Parameters use psycopg's ``%(name)s`` style.
"""

from __future__ import annotations

DETECT_UNPROTECTED = """
SELECT position_id, unprotected_since, extract(epoch FROM %(now)s::timestamptz - unprotected_since) AS unprotected_s
  FROM positions
 WHERE status <> 'CLOSED' AND protect AND unprotected_since IS NOT NULL
 ORDER BY unprotected_since, position_id
 LIMIT %(limit)s
"""
"""Detection: positions lacking protection, oldest first; served by ``positions_unprotected``."""

SCHEDULE_OPEN_POSITIONS = """
SELECT position_id, unprotected_since
  FROM positions
 WHERE status <> 'CLOSED'
 ORDER BY position_id
"""
"""The scheduler's input: every open position with its protection state; served by ``positions_open``."""

MARK_PROTECTED = """
UPDATE positions
   SET unprotected_since = NULL,
       protected_at = coalesce(protected_at, %(at)s),
       last_sync_at = %(at)s,
       last_sync_outcome = %(outcome)s
 WHERE position_id = %(position_id)s
"""
"""position-sync after a sync whose diagnostics say ``protected``."""

MARK_UNPROTECTED = """
UPDATE positions
   SET unprotected_since = coalesce(unprotected_since, %(at)s),
       last_sync_at = %(at)s,
       last_sync_outcome = %(outcome)s
 WHERE position_id = %(position_id)s AND status <> 'CLOSED' AND protect
"""
"""position-sync (or an order event) when protection is missing: keeps the earliest time."""


PROTECTIVE_ORDERS = """
SELECT l.kind, o.client_order_id, o.command_id, o.state AS status,
       coalesce(o.stop_price, o.activation_price) AS price, o.quantity,
       coalesce(t.filled_quantity, 0) AS filled_quantity, l.tp_level AS level, o.callback_rate, o.updated_at
  FROM position_protective_orders l
  JOIN orders o ON o.command_id = l.command_id
  LEFT JOIN order_fill_totals t ON t.order_id = o.id
 WHERE l.position_id = %(position_id)s
 ORDER BY o.id
"""
"""A position's protective orders as ``ProtectiveOrder`` fields (``ProtectiveOrder.model_validate(row)``
with a dict row factory), joined with the execution service's ``orders`` and ``order_fill_totals``.
A command whose order row does not exist yet is absent: the plan then re-plans the same command id
(position-sync does not send it again while it is in flight: ``kairos.portfolio.store.in_flight``)."""

LINK_PROTECTIVE_ORDER = """
INSERT INTO position_protective_orders (command_id, position_id, kind, tp_level)
VALUES (%(command_id)s, %(position_id)s, %(kind)s, %(tp_level)s)
ON CONFLICT (command_id) DO NOTHING
"""
"""position-sync, for each PLACE and AMEND action, in the transaction that writes the command."""
