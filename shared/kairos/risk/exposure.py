"""What a scope holds and has reserved, read under the scope's lock.

Exposure = open positions (``positions``, at the latest mark) + reservations: approvals of
increasing orders whose order has not ended. An approval stops reserving when its order is
final and every fill of it is in the positions projection (a filled order is then counted as
a position, never as both or as neither), or, when the executor never made an order for it,
``RESERVATION_TTL_S`` after the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

RESERVATION_TTL_S = 120
FINAL_STATES = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")

_FILTER = {
    "global": "TRUE",
    "account": "{a}.account = %(id)s",
    "strategy": "{a}.strategy_id = %(id)s",
}

_POSITIONS = """
SELECT p.venue, p.symbol, sum(CASE WHEN p.side = 'LONG' THEN p.quantity ELSE -p.quantity END), count(*)
FROM positions p WHERE p.status <> 'CLOSED' AND {f} GROUP BY p.venue, p.symbol
"""

_RESERVED = """
SELECT a.venue, a.symbol, a.quantity, a.price, a.opens_position
FROM risk_approvals a LEFT JOIN orders o ON o.command_id = a.command_id
WHERE a.increases AND a.decided_at > now() - interval '1 day' AND {f} AND (
    (o.id IS NULL AND a.decided_at > now() - make_interval(secs => %(ttl)s))
    OR o.state NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')
    OR EXISTS (SELECT 1 FROM fills f WHERE f.order_id = o.id AND NOT EXISTS (
        SELECT 1 FROM position_fills pf
        WHERE pf.account = f.account AND pf.venue = f.venue AND pf.venue_trade_id = f.venue_trade_id)))
"""

_RECENT = "SELECT count(*) FROM risk_approvals a WHERE a.decided_at > now() - interval '60 seconds' AND {f}"


@dataclass
class ScopeBook:
    """One scope's holdings and reservations; notionals at the marks given."""

    positions: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (venue, symbol) -> signed qty
    open_positions: int = 0
    reserved: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (venue, symbol) -> notional
    reserved_opens: int = 0
    orders_last_minute: int = 0

    def symbols(self) -> set[tuple[str, str]]:
        return set(self.positions) | set(self.reserved)

    def symbol_exposure(self, key: tuple[str, str], marks: dict[tuple[str, str], Decimal]) -> Decimal:
        held = abs(self.positions.get(key, Decimal(0))) * marks[key] if key in self.positions else Decimal(0)
        return held + self.reserved.get(key, Decimal(0))

    def total_exposure(self, marks: dict[tuple[str, str], Decimal]) -> Decimal:
        return sum((self.symbol_exposure(k, marks) for k in self.symbols()), Decimal(0))


def read(conn: psycopg.Connection, kind: str, scope_id: str) -> ScopeBook:
    """The scope's positions, reservations (summed per symbol by Postgres) and approvals of the
    last minute, in one statement."""
    return read_many(conn, [(kind, scope_id)])[(kind, scope_id)]


def read_many(conn: psycopg.Connection, scopes: list[tuple[str, str]]) -> dict[tuple[str, str], ScopeBook]:
    """``read`` of several scopes in one statement (one round trip for a decision's scopes)."""
    params: dict[str, object] = {"ttl": RESERVATION_TTL_S}
    parts = []
    for k, (kind, scope_id) in enumerate(scopes):
        params[f"id{k}"] = scope_id
        f = _FILTER[kind].replace("%(id)s", f"%(id{k})s")
        p, a = f.format(a="p"), f.format(a="a")
        parts.append(
            f"SELECT {k}, 'p', venue, symbol, qty, n FROM ({_POSITIONS.format(f=p)}) pos(venue, symbol, qty, n)"
            f" UNION ALL SELECT {k}, 'r', venue, symbol, sum(quantity * price), count(*) FILTER (WHERE opens_position)"
            f" FROM ({_RESERVED.format(f=a)}) res GROUP BY venue, symbol"
            f" UNION ALL SELECT {k}, 'm', NULL, NULL, NULL, n FROM ({_RECENT.format(f=a)}) rec(n)"
        )
    books = {scope: ScopeBook() for scope in scopes}
    for k, tag, venue, symbol, qty, n in conn.execute(" UNION ALL ".join(parts), params).fetchall():
        book = books[scopes[k]]
        if tag == "p":
            book.positions[(venue, symbol)] = Decimal(qty)
            book.open_positions += int(n)
        elif tag == "r":  # summed per symbol in the statement: one row per symbol, not per approval
            book.reserved[(venue, symbol)] = Decimal(qty)
            book.reserved_opens += int(n)
        else:
            book.orders_last_minute = int(n)
    return books
