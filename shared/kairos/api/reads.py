"""What the API shows: plain reads of the tables the stages write, each with its "as of".

"as of" is the database's clock at the read, so a dashboard can say how old what it shows
is: :func:`as_of` on the read's connection, or, for the reads the API counts against its rate
limits, the clock returned by the counting statement just before the read on the same
connection (everything committed before it is in the answer). Amounts stay decimal strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg


def _rows(conn: psycopg.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description or []]
    return [{n: _plain(v) for n, v in zip(names, r, strict=True)} for r in cur.fetchall()]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def as_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return str(row[0].isoformat())


def orders(conn: psycopg.Connection, *, limit: int, state: str | None, account: str | None) -> list[dict[str, Any]]:
    return _rows(
        conn,
        "SELECT id, command_id, client_order_id, account, venue, mode, symbol, side, order_type, quantity,"
        " limit_price, stop_price, reduce_only, intent, strategy_id, state, venue_order_id, reason,"
        " created_at, updated_at FROM orders"
        " WHERE (%(state)s::text IS NULL OR state = %(state)s) AND (%(account)s::text IS NULL OR account = %(account)s)"
        " ORDER BY id DESC LIMIT %(limit)s",
        {"state": state, "account": account, "limit": limit},
    )


def fills(conn: psycopg.Connection, *, limit: int, account: str | None) -> list[dict[str, Any]]:
    return _rows(
        conn,
        "SELECT f.id, f.order_id, o.command_id, f.account, f.venue, o.symbol, o.side, f.quantity, f.price, f.fee,"
        " f.fee_asset, f.is_maker, f.traded_at, f.recorded_at FROM fills f JOIN orders o ON o.id = f.order_id"
        " WHERE (%(account)s::text IS NULL OR f.account = %(account)s) ORDER BY f.id DESC LIMIT %(limit)s",
        {"account": account, "limit": limit},
    )


def positions(conn: psycopg.Connection, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """Positions with their protection: state, since when unprotected, and each protective order."""
    found = _rows(
        conn,
        "SELECT p.position_id, p.account, p.venue, p.symbol, p.side, p.status, p.quantity, p.entry_price,"
        " p.realised_pnl, p.fees_paid, p.opened_at, p.updated_at, p.closed_at, p.close_reason, p.strategy_id,"
        " p.mode, p.managed, p.protect, p.unprotected_since, p.protected_at, p.last_sync_at, p.last_sync_outcome,"
        " m.price AS mark_price, m.observed_at AS mark_observed_at,"
        " CASE WHEN m.price IS NULL OR p.status = 'CLOSED' THEN NULL"
        "      WHEN p.side = 'LONG' THEN (m.price - p.entry_price) * p.quantity"
        "      ELSE (p.entry_price - m.price) * p.quantity END AS unrealised_pnl"
        " FROM positions p LEFT JOIN mark_prices m ON m.venue = p.venue AND m.symbol = p.symbol"
        " WHERE (NOT %(open)s OR p.status <> 'CLOSED') ORDER BY p.updated_at DESC LIMIT %(limit)s",
        {"open": open_only, "limit": limit},
    )
    if not found:
        return found
    ids = [p["position_id"] for p in found]
    links = _rows(
        conn,
        "SELECT l.position_id, l.kind, l.tp_level, l.command_id, o.state, o.order_type, o.stop_price, o.limit_price,"
        " o.quantity FROM position_protective_orders l LEFT JOIN orders o ON o.command_id = l.command_id"
        " WHERE l.position_id = ANY(%s) ORDER BY l.created_at",
        (ids,),
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        by_id.setdefault(link.pop("position_id"), []).append(link)
    resting = {"OPEN", "PARTIALLY_FILLED", "SUBMITTED", "NEW"}
    for p in found:
        orders_ = by_id.get(p["position_id"], [])
        kinds = {o["kind"] for o in orders_ if o["state"] in resting}
        if p["status"] == "CLOSED":
            state = "closed"
        elif not p["protect"]:
            state = "not protected (by setting)"
        elif {"TP", "SL"} <= kinds or ("TRAILING" in kinds and "SL" in kinds):
            state = "protected"
        elif kinds:
            state = "partly protected"
        else:
            state = "unprotected"
        p["protection"] = {"state": state, "orders": orders_}
    return found


def pnl(conn: psycopg.Connection) -> dict[str, Any]:
    rows = _rows(
        conn,
        "SELECT coalesce(sum(p.realised_pnl), 0) AS realised, coalesce(sum(p.fees_paid), 0) AS fees,"
        " coalesce(sum(CASE WHEN p.status = 'CLOSED' OR m.price IS NULL THEN 0"
        "   WHEN p.side = 'LONG' THEN (m.price - p.entry_price) * p.quantity"
        "   ELSE (p.entry_price - m.price) * p.quantity END), 0) AS unrealised,"
        " count(*) FILTER (WHERE p.status <> 'CLOSED') AS open_positions,"
        " count(*) FILTER (WHERE p.status <> 'CLOSED' AND m.price IS NULL) AS open_without_mark,"
        " min(m.observed_at) FILTER (WHERE p.status <> 'CLOSED') AS oldest_mark_at"
        " FROM positions p LEFT JOIN mark_prices m ON m.venue = p.venue AND m.symbol = p.symbol",
    )
    return rows[0]


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def snapshots(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """The portfolio's stored snapshots, newest first (empty where portfolio accounting has none)."""
    if not table_exists(conn, "portfolio_snapshots"):
        return []
    return _rows(conn, "SELECT * FROM portfolio_snapshots ORDER BY slot DESC, account LIMIT %s", (limit,))


def market_data(conn: psycopg.Connection, venue: str, symbol: str) -> dict[str, Any] | None:
    mark = _rows(conn, "SELECT price, observed_at FROM mark_prices WHERE venue = %s AND symbol = %s", (venue, symbol))
    last = _rows(
        conn,
        "SELECT timeframe, open_time, close_time, open, high, low, close, volume FROM candles"
        " WHERE venue = %s AND symbol = %s AND timeframe = '1m' ORDER BY open_time DESC, revision DESC LIMIT 1",
        (venue, symbol),
    )
    if not mark and not last:
        return None
    return {
        "venue": venue,
        "symbol": symbol,
        "mark": mark[0] if mark else None,
        "last_candle": last[0] if last else None,
    }


def ohlcv(conn: psycopg.Connection, venue: str, symbol: str, timeframe: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` candles (latest revision each), oldest first."""
    found = _rows(
        conn,
        "SELECT DISTINCT ON (open_time) open_time, close_time, open, high, low, close, volume FROM candles"
        " WHERE venue = %s AND symbol = %s AND timeframe = %s ORDER BY open_time DESC, revision DESC LIMIT %s",
        (venue, symbol, timeframe, limit),
    )
    return list(reversed(found))


def alerts(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest ops.alert events, read from the outbox every stage writes them through."""
    cur = conn.execute(
        "SELECT id, producer, created_at, value FROM outbox WHERE event_type = 'kairos.ops.alert'"
        " ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    out = []
    for rid, producer, created, value in cur.fetchall():
        try:
            data = json.loads(bytes(value))
        except ValueError:
            data = {}
        data = data.get("data", data) if isinstance(data, dict) else {}
        out.append({"id": rid, "producer": producer, "at": created.isoformat(), **data})
    return out


def accounts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Exchange accounts without their keys: only whether keys are sealed and with which key id."""
    return _rows(
        conn,
        "SELECT account, venue, mode, base_url, key_id, key_ciphertext IS NOT NULL AS has_keys, created_at,"
        " updated_at FROM exec_accounts ORDER BY account",
    )
