"""Mark prices for position-sync: recorded by the reconciler's tick and by normalize-tickers
(every few seconds for the subscribed symbols, ``kairos.marketdata``), read with an age limit.

position-sync has no way out to a venue (only the executor, the reconciler and the clock guard
do), yet the emulated trail, "the price is already beyond the stop" and "the TP is already
passed" need a price. So the reconciler, which reads the venue every minute anyway, also asks
for the marks of the symbols with open positions (one public request per venue) and records
them here; position-sync reads the latest one and treats a mark older than its limit as no mark
at all: a stale price must neither move a stop nor close a position. With no mark the plan
still protects (fixed TP/SL, native trailing); only the price-driven branches wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

log = logging.getLogger("kairos.portfolio.marks")

OPEN_SYMBOLS = """
SELECT p.venue, p.account, p.symbol FROM positions p
WHERE p.status <> 'CLOSED' AND (%(accounts)s::text[] IS NULL OR p.account = ANY(%(accounts)s::text[]))
GROUP BY p.venue, p.account, p.symbol ORDER BY p.venue, p.account, p.symbol
"""

RECORD = """
INSERT INTO mark_prices (venue, symbol, price, observed_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (venue, symbol) DO UPDATE SET price = excluded.price, observed_at = excluded.observed_at
WHERE mark_prices.observed_at < excluded.observed_at
"""

LATEST = """
SELECT price FROM mark_prices
WHERE venue = %s AND symbol = %s AND observed_at >= now() - %s::interval
"""


@dataclass(frozen=True)
class Wanted:
    """The symbols of one venue that have open positions, and the accounts that can ask for them."""

    venue: str
    symbols: tuple[str, ...]
    accounts: tuple[str, ...]


def wanted(conn: psycopg.Connection, accounts: Sequence[str] | None = None) -> list[Wanted]:
    """Per venue, the symbols with open positions (of ``accounts`` when given)."""
    rows = conn.execute(OPEN_SYMBOLS, {"accounts": list(accounts) if accounts else None}).fetchall()
    by_venue: dict[str, tuple[set[str], dict[str, None]]] = {}  # accounts: an ordered set
    for venue, account, symbol in rows:
        symbols, accts = by_venue.setdefault(venue, (set(), {}))
        symbols.add(symbol)
        accts[account] = None
    return [Wanted(v, tuple(sorted(s)), tuple(a)) for v, (s, a) in sorted(by_venue.items())]


def read(want: Wanted, ask: Callable[[str, Sequence[str]], Mapping[str, Decimal]], *,
         unanswered: tuple[type[Exception], ...]) -> dict[str, Decimal]:
    """Ask the venue through the first account that answers (marks are public: any one will do);
    ``unanswered``: the failures that mean "this account cannot ask now" (anything else is a bug
    and propagates). Returns {} when none can; the next tick tries again and position-sync plans
    without a mark."""
    for account in want.accounts:
        try:
            return dict(ask(account, want.symbols))
        except unanswered as exc:
            log.warning("mark prices not read through this account; trying the next",
                        extra={"venue": want.venue, "account": account, "reason": str(exc)})
    log.warning("no mark prices this tick: position-sync plans without them until the next",
                extra={"venue": want.venue, "symbols": list(want.symbols)})
    return {}


def record(conn: psycopg.Connection, venue: str, prices: Mapping[str, Decimal], observed_at: datetime) -> int:
    """Store the marks seen at ``observed_at``; an older observation never replaces a newer one."""
    rows = [(venue, symbol, price, observed_at) for symbol, price in prices.items() if price > 0]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(RECORD, rows)
    return len(rows)


def latest(conn: psycopg.Connection, venue: str, symbol: str, max_age: timedelta) -> Decimal | None:
    """The mark of ``symbol`` if one was observed within ``max_age`` (database clock), else None."""
    row = conn.execute(LATEST, (venue, symbol, max_age)).fetchone()
    return None if row is None else Decimal(row[0])
