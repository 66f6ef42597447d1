"""Balances against the venue: every minute the reconciler's tick compares each LIVE account's
wallet balance per asset with the portfolio ledger's (``kairos.portfolio.ledger``).

The first time an asset is seen, the difference becomes the account's opening balance (a
ledger row), so the ledger starts equal to the venue. After that, a difference beyond the
tolerance is a ``BALANCE_DRIFT`` alert: money moved that no fill, fee or funding we know of
explains (a transfer, a missed fill, a wrong fee). While a fill of the account is recorded
by the executor but not yet in the ledger (the portfolio function is a moment behind), the
account is not compared: that difference is not a drift.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

import psycopg

from kairos.contracts.ops import Alert
from kairos.portfolio import ledger

log = logging.getLogger("kairos.portfolio.balances")

TOLERANCE = Decimal("0.01")


def fills_pending(conn: psycopg.Connection, account: str) -> int:
    """Fills the executor recorded that the ledger has not applied yet."""
    r = conn.execute(
        "SELECT count(*) FROM fills f WHERE f.account = %s AND NOT EXISTS (SELECT 1 FROM portfolio_fills p"
        " WHERE p.account = f.account AND p.venue = f.venue AND p.venue_trade_id = f.venue_trade_id)",
        (account,),
    ).fetchone()
    return int(r[0]) if r else 0


def reconcile(conn: psycopg.Connection, account: str, venue: str, venue_balances: dict[str, Decimal],
              at: datetime, tolerance: Decimal = TOLERANCE) -> list[Alert]:  # fmt: skip
    """Compare (caller's transaction); the drift alerts, opening balances recorded on first sight."""
    if fills_pending(conn, account):
        log.info("balances not compared: fills in flight to the ledger", extra={"account": account})
        return []
    ours = {b.asset: b.amount for b in ledger.balances(conn, account) if b.venue == venue}
    opened = {r[0] for r in conn.execute(
        "SELECT asset FROM portfolio_ledger WHERE account = %s AND venue = %s AND kind = 'opening'", (account, venue),
    ).fetchall()}  # fmt: skip
    alerts = []
    for asset, theirs in sorted(venue_balances.items()):
        mine = ours.get(asset, Decimal(0))
        if asset not in opened:
            ledger.record_opening(conn, account, venue, asset, theirs - mine, at)
            continue
        drift = theirs - mine
        if abs(drift) > tolerance:
            alerts.append(Alert(
                severity="warning", code="BALANCE_DRIFT", component="reconciler",
                message=f"{account} {asset}: venue wallet {theirs}, ledger {mine}, drift {drift}",
                action="find the money movement the ledger lacks (transfer, fill, fee, funding); "
                       "record it, then check again",
                details={"account": account, "venue": venue, "asset": asset, "venue_balance": str(theirs),
                         "ledger_balance": str(mine), "drift": str(drift), "at": at.isoformat()},
            ))  # fmt: skip
    return alerts
