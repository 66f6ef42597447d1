"""Postgres I/O of the positions integration: rows in, core values out, nothing decided here.

Tables are migration 0010's (``positions``, ``position_fills``, ``position_protective_orders``)
joined with the execution service's (``orders``, ``fills``, ``order_fill_totals``, 0003).
Every function takes the open transaction's connection: the caller owns the transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from kairos.positions import queries
from kairos.positions.model import Fill, Position, PositionKey, ProtectiveKind, ProtectiveOrder
from kairos.positions.plan import PlacementFailure, Rejection
from kairos.positions.sync import UnfoldedFills

_UPSERT = """
INSERT INTO positions (position_id, account, venue, symbol, hedge_side, side, status, quantity, peak_quantity,
                       entry_price, realised_pnl, fees_paid, opened_at, updated_at, closed_at, strategy_id, mode,
                       managed, protect, revision, projection, unprotected_since)
VALUES (%(position_id)s, %(account)s, %(venue)s, %(symbol)s, %(hedge_side)s, %(side)s, %(status)s, %(quantity)s,
        %(peak_quantity)s, %(entry_price)s, %(realised_pnl)s, %(fees_paid)s, %(opened_at)s, %(updated_at)s,
        %(closed_at)s, %(strategy_id)s, %(mode)s, %(managed)s, %(protect)s, %(revision)s, %(projection)s,
        %(unprotected_since)s)
ON CONFLICT (position_id) DO UPDATE SET
    status = EXCLUDED.status, quantity = EXCLUDED.quantity, peak_quantity = EXCLUDED.peak_quantity,
    entry_price = EXCLUDED.entry_price, realised_pnl = EXCLUDED.realised_pnl, fees_paid = EXCLUDED.fees_paid,
    updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, revision = EXCLUDED.revision,
    projection = EXCLUDED.projection,
    unprotected_since = CASE WHEN EXCLUDED.status = 'CLOSED' THEN NULL ELSE positions.unprotected_since END
"""


def save(conn: psycopg.Connection, position: Position) -> None:
    """Insert or update one position row; a new protected position starts unprotected (detection)."""
    key = position.key
    wants = position.is_open and position.protect and not position.protection.empty
    conn.execute(_UPSERT, {
        "position_id": position.position_id, "account": key.account, "venue": key.venue, "symbol": key.symbol,
        "hedge_side": key.hedge_side.value if key.hedge_side else "BOTH", "side": position.side.value,
        "status": position.status.value, "quantity": position.quantity, "peak_quantity": position.peak_quantity,
        "entry_price": position.entry_price, "realised_pnl": position.realised_pnl, "fees_paid": position.fees_paid,
        "opened_at": position.opened_at, "updated_at": position.updated_at, "closed_at": position.closed_at,
        "strategy_id": position.strategy_id, "mode": position.mode.value, "managed": position.managed,
        "protect": wants, "revision": position.revision, "projection": position.model_dump_json(),
        "unprotected_since": position.opened_at if wants else None,
    })


def _position(row: Any) -> Position:
    data = row[0]
    return Position.model_validate_json(data) if isinstance(data, str) else Position.model_validate(data)


def open_in_slot(conn: psycopg.Connection, key: PositionKey) -> Position | None:
    """The slot's open position, locked until the transaction ends (one fold at a time per slot)."""
    row = conn.execute(
        "SELECT projection FROM positions WHERE account = %s AND venue = %s AND symbol = %s AND hedge_side = %s"
        " AND status <> 'CLOSED' FOR UPDATE",
        (key.account, key.venue, key.symbol, key.hedge_side.value if key.hedge_side else "BOTH"),
    ).fetchone()
    return _position(row) if row else None


def open_for_account(conn: psycopg.Connection, account: str, venue: str) -> list[Position]:
    """The account's open one-way positions, locked until the transaction ends (the reconciler
    compares them with the venue)."""
    rows = conn.execute(
        "SELECT projection FROM positions WHERE account = %s AND venue = %s AND status <> 'CLOSED'"
        " AND hedge_side = 'BOTH' ORDER BY opened_at FOR UPDATE",
        (account, venue),
    ).fetchall()
    return [_position(r) for r in rows]


def load(conn: psycopg.Connection, position_id: str, *, lock: bool = True) -> Position | None:
    sql = "SELECT projection FROM positions WHERE position_id = %s" + (" FOR UPDATE" if lock else "")
    row = conn.execute(sql, (position_id,)).fetchone()
    return _position(row) if row else None


def fill_seen(conn: psycopg.Connection, account: str, venue: str, trade_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM position_fills WHERE account = %s AND venue = %s AND venue_trade_id = %s",
        (account, venue, trade_id),
    ).fetchone() is not None


def record_fill(conn: psycopg.Connection, fill: Fill, position_id: str) -> None:
    conn.execute(
        "INSERT INTO position_fills (account, venue, venue_trade_id, position_id, fill) VALUES (%s, %s, %s, %s, %s)",
        (fill.account, fill.venue, fill.venue_trade_id, position_id, fill.model_dump_json()),
    )


@dataclass(frozen=True)
class OrderContext:
    """What the executor's order row says a fill was for (absent: a fill of no command of ours)."""

    intent: str = "entry"
    reduce_only: bool = False
    strategy_id: str | None = None
    client_tag: str | None = None
    kind: ProtectiveKind | None = None
    tp_level: int | None = None
    remaining: Decimal | None = None


_ORDER_CONTEXT = """
SELECT o.intent, o.reduce_only, o.strategy_id, o.command_event -> 'data' ->> 'client_tag', l.kind, l.tp_level,
       o.quantity - coalesce((SELECT sum(f2.quantity) FROM fills f2 WHERE f2.order_id = o.id
                               AND f2.id <= (SELECT f3.id FROM fills f3 WHERE f3.order_id = o.id
                                              AND f3.venue_trade_id = %(trade)s)), 0)
  FROM orders o LEFT JOIN position_protective_orders l ON l.command_id = o.command_id
 WHERE o.command_id = %(command)s
"""


def order_context(conn: psycopg.Connection, command_id: str, trade_id: str) -> OrderContext:
    row = conn.execute(_ORDER_CONTEXT, {"command": command_id, "trade": trade_id}).fetchone()
    if row is None:
        return OrderContext()
    kind = ProtectiveKind(row[4]) if row[4] else None
    level = row[5]
    tag = row[3]
    if kind is None and tag and tag.count(":") == 2:  # "<position>:<KIND|EXIT>:<level>" (close at market)
        _pid, tkind, tlevel = tag.split(":")
        if tlevel.isdigit():
            kind, level = ProtectiveKind.TP, int(tlevel)  # a TP taken at market counts for its level
        elif tkind in ProtectiveKind.__members__:
            kind = ProtectiveKind(tkind)
    remaining = Decimal(row[6]) if row[6] is not None else None
    return OrderContext(row[0], bool(row[1]), row[2], tag, kind, level, max(remaining, Decimal(0))
                        if remaining is not None else None)


def protective_orders(conn: psycopg.Connection, position_id: str) -> list[ProtectiveOrder]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(queries.PROTECTIVE_ORDERS, {"position_id": position_id}).fetchall()
    return [ProtectiveOrder.model_validate(r) for r in rows]


def link(conn: psycopg.Connection, command_id: str, position_id: str, kind: ProtectiveKind, level: int | None) -> None:
    conn.execute(queries.LINK_PROTECTIVE_ORDER,
                 {"command_id": command_id, "position_id": position_id, "kind": kind.value, "tp_level": level})


IN_FLIGHT = """
SELECT 1 FROM position_protective_orders l
WHERE l.command_id = %s AND l.created_at > now() - %s::interval
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.command_id = l.command_id)
"""


def in_flight(conn: psycopg.Connection, command_id: str, grace: timedelta) -> bool:
    """The placement was asked for less than ``grace`` ago and the executor has not taken it up yet
    (no order row): it sits in the outbox or the executor's queue, so asking again adds only load."""
    return conn.execute(IN_FLIGHT, (command_id, grace)).fetchone() is not None


def linked_position(conn: psycopg.Connection, command_id: str) -> str | None:
    row = conn.execute("SELECT position_id FROM position_protective_orders WHERE command_id = %s",
                       (command_id,)).fetchone()
    return str(row[0]) if row else None


def _rejection(reason: str | None) -> Rejection:
    text = (reason or "").lower()
    if "-2022" in text or "reduceonly" in text.replace(" ", "").replace("_", ""):
        return Rejection.REDUCE_ONLY
    if "-2021" in text or "immediately trigger" in text:
        return Rejection.WOULD_TRIGGER
    if "invalid" in text:
        return Rejection.INVALID_ORDER
    return Rejection.OTHER


def failures(conn: psycopg.Connection, position: Position) -> list[PlacementFailure]:
    """Rejected protective placements since the position last changed: a new fill folded (the
    re-read) clears them, so a -2022 leads to one re-read, not to a retry loop."""
    rows = conn.execute(
        "SELECT l.kind, o.reason FROM position_protective_orders l JOIN orders o ON o.command_id = l.command_id"
        " WHERE l.position_id = %s AND o.state = 'REJECTED' AND o.updated_at > %s ORDER BY o.id",
        (position.position_id, position.updated_at),
    ).fetchall()
    by_kind: dict[ProtectiveKind, PlacementFailure] = {}
    for kind_text, reason in rows:
        kind = ProtectiveKind(kind_text)
        prev = by_kind.get(kind)
        by_kind[kind] = PlacementFailure(kind, _rejection(reason), (prev.count if prev else 0) + 1)
    return list(by_kind.values())


def unfolded(conn: psycopg.Connection, position_id: str) -> UnfoldedFills:
    """Fills of this position's protective orders the executor recorded but the fold has not applied."""
    row = conn.execute(
        "SELECT coalesce(sum(f.quantity), 0), coalesce(bool_or(l.kind = 'TP'), false)"
        "  FROM position_protective_orders l JOIN orders o ON o.command_id = l.command_id"
        "  JOIN fills f ON f.order_id = o.id"
        "  LEFT JOIN position_fills pf ON pf.account = f.account AND pf.venue = f.venue"
        "   AND pf.venue_trade_id = f.venue_trade_id"
        " WHERE l.position_id = %s AND pf.venue_trade_id IS NULL",
        (position_id,),
    ).fetchone()
    assert row is not None
    return UnfoldedFills(Decimal(row[0]), bool(row[1]))


def mark(conn: psycopg.Connection, position_id: str, *, protected: bool, at: datetime, outcome: str) -> None:
    sql = queries.MARK_PROTECTED if protected else queries.MARK_UNPROTECTED
    conn.execute(sql, {"position_id": position_id, "at": at, "outcome": outcome[:2000]})
    if not protected:  # MARK_UNPROTECTED skips closed/unprotected rows; the sync time is still news
        conn.execute("UPDATE positions SET last_sync_at = %s, last_sync_outcome = %s WHERE position_id = %s",
                     (at, outcome[:2000], position_id))


def save_trail(conn: psycopg.Connection, position: Position) -> None:
    conn.execute("UPDATE positions SET projection = %s WHERE position_id = %s",
                 (position.model_dump_json(), position.position_id))


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)
