"""What a scope holds and has reserved, read under the scope's lock.

Exposure = open positions (``positions``, at the latest mark) + reservations: approvals of
increasing orders whose order has not ended. An approval stops reserving when its order is
final and every fill of it is in the positions projection (a filled order is then counted as
a position, never as both or as neither), or, when the executor never made an order for it,
``RESERVATION_TTL_S`` after the decision, and in any case a day after it.

A decision does not scan the approvals for that: Postgres keeps the open reservations and a
running total per scope and symbol (migration ``0075_risk_reservations``). Triggers on the
approvals, orders, fills and projected fills change them in the transaction of the change
that opens or ends a reservation; the reader (``risk_reserved_read``, under the scope locks)
applies the two time limits and folds the scopes' pending deltas into their totals. So a
decision reads O(symbols) rows whatever the number of open reservations.
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

# every scope's reservations per symbol (notional, how many open a position), from the running
# totals; the upkeep scopes are folded too but not returned
_RESERVED = """
SELECT array_position(%(keys)s::text[], r.scope) - 1, 'r', r.venue, r.symbol, r.notional, r.opens
FROM risk_reserved_read(%(keys)s::text[] || %(upkeep)s::text[], %(ttl)s) r WHERE r.scope = ANY(%(keys)s::text[])
"""

# every scope's approvals of the last minute, from the per-second counters (the upkeep scopes'
# old counters are dropped too)
_RECENT = """
SELECT array_position(%(keys)s::text[], r.scope) - 1, 'm', NULL, NULL, NULL, r.n
FROM risk_rate_read(%(keys)s::text[] || %(upkeep)s::text[], 60) r WHERE r.scope = ANY(%(keys)s::text[])
"""


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


def scope_key(kind: str, scope_id: str) -> str:
    """A scope's key in ``risk_scope_locks`` and the reservation totals: ``global``, ``account:<id>``
    or ``strategy:<id>``."""
    return "global" if kind == "global" else f"{kind}:{scope_id}"


def read(conn: psycopg.Connection, kind: str, scope_id: str) -> ScopeBook:
    """The scope's positions, reservations (per symbol) and approvals of the last minute, in one
    statement."""
    return read_many(conn, [(kind, scope_id)])[(kind, scope_id)]


def read_many(
    conn: psycopg.Connection, scopes: list[tuple[str, str]], *, upkeep: list[tuple[str, str]] | None = None
) -> dict[tuple[str, str], ScopeBook]:
    """``read`` of several scopes in one statement (one round trip for a decision's scopes). It
    folds the pending reservation deltas of the scopes and of ``upkeep`` (scopes not read, such
    as a decision's scopes without a limit that reads them) into their totals and drops their
    counters older than the minute, so neither piles up: call it in the transaction that holds
    those scopes' locks."""
    params: dict[str, object] = {
        "ttl": RESERVATION_TTL_S,
        "keys": [scope_key(*s) for s in scopes],
        "upkeep": [scope_key(*s) for s in upkeep or []],
    }
    parts = [_RESERVED, _RECENT]
    for k, (kind, scope_id) in enumerate(scopes):
        params[f"id{k}"] = scope_id
        f = _FILTER[kind].replace("%(id)s", f"%(id{k})s")
        parts.append(
            f"SELECT {k}, 'p', venue, symbol, qty, n FROM ({_POSITIONS.format(f=f.format(a='p'))})"
            " pos(venue, symbol, qty, n)"
        )
    books = {scope: ScopeBook() for scope in scopes}
    for k, tag, venue, symbol, qty, n in conn.execute(" UNION ALL ".join(parts), params).fetchall():
        book = books[scopes[k]]
        if tag == "p":
            book.positions[(venue, symbol)] = Decimal(qty)
            book.open_positions += int(n)
        elif tag == "r":  # one row per symbol with reservations: its running total
            book.reserved[(venue, symbol)] = Decimal(qty)
            book.reserved_opens += int(n)
        else:
            book.orders_last_minute = int(n)
    return books
