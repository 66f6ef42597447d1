"""Funding payments from the venue into the portfolio ledger.

A perpetual position pays or receives funding at each funding time; the venue moves the
wallet by it without any fill. The reconciler's tick reads the account's payments from the
venue and applies each one once (``ledger.apply_funding``, idempotent by the venue's payment
id) *before* it compares the wallet with the ledger, so a payment is part of realized PnL and
never a balance drift.

Payments settled before the account's opening balance are already inside that opening
balance: reading starts at the opening row (or at the newest payment applied, which the
ledger stores at the venue's payment time), so none is counted twice.

The venue answers a page at a time (Binance: 1,000 at most), so a read pages forward by time
until a page comes back short. Each next page starts AT the newest time of the last one, not
after it: payments of several symbols settle in the same millisecond, and a page may end
inside such a group; those seen twice are skipped by their venue id. Pages are applied in the
caller's transaction as they arrive, so a read that fails part way keeps what it applied (the
next read starts after it), and a process that dies part way applied nothing (the next read
starts where this one did).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg

from kairos.portfolio import ledger
from kairos.venues.port import VenueAdapter, VenueFunding

log = logging.getLogger("kairos.portfolio.funding")

PAGE_SIZE = 1000  # the most Binance's income endpoint returns per request


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


def pages(adapter: VenueAdapter, since: datetime, page_size: int | None = None) -> Iterator[list[VenueFunding]]:
    """The payments at or after ``since``, page by page, oldest first, each payment once;
    ``page_size`` defaults to ``PAGE_SIZE``.

    Raises VenueError when a page cannot be read (the pages before it were yielded)."""
    page_size = page_size or PAGE_SIZE
    start, seen = since, set[str]()
    while True:
        page = adapter.funding(start, limit=page_size)
        fresh = [p for p in page if p.funding_id not in seen]
        seen.update(p.funding_id for p in fresh)
        if fresh:
            yield fresh
        if len(page) < page_size:
            return
        newest = max(p.at for p in page)
        if newest <= start:  # a whole page in one millisecond: the only way on is past it
            log.warning(
                "a full page of funding payments shares one millisecond; reading on after it",
                extra={"at": start.isoformat(), "page_size": page_size},
            )
            newest = start + timedelta(milliseconds=1)
        start = newest


def sync(
    conn: psycopg.Connection, account: str, venue: str, adapter: VenueAdapter, page_size: int | None = None
) -> int:
    """Read the account's new payments from the venue, every page, and apply them (caller's
    transaction); how many were new. Nothing is read before the account's opening balance."""
    since = read_since(conn, account, venue)
    if since is None:
        return 0
    return sum(apply(conn, account, venue, page) for page in pages(adapter, since, page_size))
