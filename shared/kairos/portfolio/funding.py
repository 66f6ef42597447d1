"""Funding payments from the venue into the portfolio ledger.

A perpetual position pays or receives funding at each funding time; the venue moves the
wallet by it without any fill. The reconciler's tick reads the account's payments from the
venue and applies each one once (``ledger.apply_funding``, idempotent by the venue's payment
id) *before* it compares the wallet with the ledger, so a payment is part of realized PnL and
never a balance drift.

Payments settled before the account's opening balance are already inside that opening
balance: reading starts at the opening row (or at the newest payment applied, which the
ledger stores at the venue's payment time), so none is counted twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from kairos.portfolio import ledger
from kairos.venues.port import VenueFunding

log = logging.getLogger("kairos.portfolio.funding")


def read_since(conn: psycopg.Connection, account: str, venue: str) -> datetime | None:
    """Where the next read starts; None before the account's first balance comparison (its
    opening balance, taken from the wallet, will include every earlier payment)."""
    row = conn.execute(
        "SELECT max(at) FILTER (WHERE kind = 'funding'), max(at) FILTER (WHERE kind = 'opening')"
        " FROM portfolio_ledger WHERE account = %s AND venue = %s",
        (account, venue),
    ).fetchone()
    if row is None or row[1] is None:
        return None
    return row[0] if row[0] is not None and row[0] > row[1] else row[1]


def apply(conn: psycopg.Connection, account: str, venue: str, payments: list[VenueFunding]) -> int:
    """Apply the payments not applied yet (caller's transaction); how many were new."""
    new = 0
    for p in payments:
        if ledger.apply_funding(conn, account, venue, p.symbol, p.amount, p.funding_id, p.at):
            new += 1
    if new:
        log.info("funding applied to the ledger", extra={"account": account, "venue": venue, "payments": new})
    return new
