"""The guardian watching prices: every ``norm.ticker`` of a symbol someone holds re-reads the
daily-loss limits, so a price move that brings a scope to 80 % of its limit (MEDIUM) or past it
(kill switch engaged, CRITICAL) is seen within seconds, not at the next minute's tick.

The ticker itself is not what is read: normalize-tickers stores the mark in ``mark_prices`` in
the transaction that publishes the ticker, so the portfolio's unrealized PnL already uses it.
A ticker of a symbol nobody holds cannot move any daily PnL and costs one indexed read.
"""

from __future__ import annotations

from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import Ticker
from kairos.contracts.risk import RiskAlert
from kairos.risk import guardian


def held(conn: psycopg.Connection, venue: str, symbol: str) -> bool:
    """Whether any account holds a position in ``symbol`` on ``venue`` (per the portfolio)."""
    row = conn.execute(
        "SELECT 1 FROM portfolio_holdings WHERE venue = %s AND symbol = %s AND quantity <> 0 LIMIT 1", (venue, symbol)
    ).fetchone()
    return row is not None


def on_price(conn: psycopg.Connection, ticker: Ticker) -> list[RiskAlert]:
    """The daily-loss limits against the PnL at the new price; nothing for an unheld symbol."""
    if not held(conn, ticker.venue, ticker.symbol):
        return []
    return guardian.watch(conn)


def price_events(conn: psycopg.Connection, event: Envelope[Ticker], source: str) -> list[Envelope[Any]]:
    """The function shell's entry for a ``norm.ticker``: the alerts as events."""
    return guardian.alert_events(on_price(conn, event.data), source, event)
