"""The reconciler's tick: our orders against the venue, positions nobody opened through us,
and the mark prices position-sync needs, in that order.

1. Read every LIVE account's venue positions (outside any transaction, best effort per account).
   They are read *before* the orders are reconciled: every fill inside them is then either
   recorded by step 2 or seen as in flight by the adoption's guard, so our own fills are
   never adopted as someone else's position.
2. Reconcile our non-final orders with the venue (``kairos.execution.reconcile``): missing
   transitions and fills are written in the short transactions that apply them and handed
   to the publisher at once; lost and orphan orders become alerts.
3. Adopt the venue positions no fill of ours explains (``kairos.portfolio.adoption``), in the
   tick's transaction, with their alerts and immediate syncs as the tick's outputs.
   Then each of those accounts' funding payments into the ledger (``kairos.portfolio.funding``)
   and its wallet balances against the ledger (``kairos.portfolio.balances``): drift alerts.
4. Record the mark prices of the symbols with open positions (``kairos.portfolio.marks``),
   last, so what position-sync reads over the next minute is as fresh as it can be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import Alert, PingTick
from kairos.execution import accounts
from kairos.execution.accounts import AccountBook, UnknownAccount
from kairos.execution.metrics import RECONCILIATION_ERRORS
from kairos.execution.vault import KeyUnavailable
from kairos.execution.wiring import ExecutionRuntime
from kairos.portfolio import balances, funding, marks
from kairos.portfolio.adoption import adopt_from_venue
from kairos.portfolio.config import PositionsConfig
from kairos.runtime.recorder import OutboxRow
from kairos.venues.port import OrderRejected, VenueAdapter, VenueError, VenuePosition

log = logging.getLogger("kairos.portfolio.reconcile_tick")

PARTITION = "reconciler"

# Why reading a venue through one account can fail without it being a bug: the venue did not
# answer or refused the request, or the account's keys cannot be opened.
VENUE_SIDE = (VenueError, OrderRejected)
KEYS_SIDE = (UnknownAccount, KeyUnavailable)


@dataclass(frozen=True)
class PositionsRead:
    """One LIVE account's venue positions and the database time just before they were read."""

    account: str
    venue: str
    read_at: datetime
    positions: list[VenuePosition]


def run_tick(
    conn: psycopg.Connection,
    rt: ExecutionRuntime,
    event: Envelope[PingTick],
    config: PositionsConfig,
    source: str,
    publish: Callable[[Sequence[OutboxRow]], None],
) -> list[Envelope[Any]]:
    """One tick, for the accounts the tick names (``args.accounts``) or all of them.

    ``conn`` is the tick's transaction (adoptions, marks); ``publish`` takes the order events
    step 2 committed on the execution pool. Returns the tick's outputs: alerts and adoptions."""
    chosen = (event.data.args or {}).get("accounts")
    reads = read_positions(rt, chosen)
    report = rt.reconciler.run(accounts=chosen)
    publish(report.outbox_rows)
    for alert in report.alerts:
        RECONCILIATION_ERRORS.labels(alert.code).inc()
    out: list[Envelope[Any]] = [
        derive_event(event, alert, source=source, partition_key=PARTITION, index=i)
        for i, alert in enumerate(report.alerts)
    ]
    for read in reads:
        _account, adapter = rt.service.book.get(read.account)  # read above: its keys open
        out += adopt_from_venue(
            conn, read.account, read.venue, read.positions, read.read_at, event, config, source, index_from=len(out),
            close_reason=adapter.close_reason,
        )
        out += [derive_event(event, alert, source=source, partition_key=PARTITION, index=len(out) + i)
                for i, alert in enumerate(check_balances(conn, read, adapter))]  # fmt: skip
    record_marks(conn, rt.service.book, chosen)
    return out


def check_balances(conn: psycopg.Connection, read: PositionsRead, adapter: VenueAdapter) -> list[Alert]:
    """The account's funding payments into the ledger, then its wallet against the ledger
    (``kairos.portfolio.balances``); an account whose venue does not answer now is compared
    on the next tick (a payment not read yet would look like drift)."""
    try:
        funding.sync(conn, read.account, read.venue, adapter)
        wallet = adapter.balances()
    except VENUE_SIDE as exc:
        log.warning("venue funding or balances not read; compared on the next tick", extra={"account": read.account,
                    "reason": str(exc)})  # fmt: skip
        return []
    return balances.reconcile(conn, read.account, read.venue, wallet, _db_now(conn))


def read_positions(rt: ExecutionRuntime, chosen: Sequence[str] | None) -> list[PositionsRead]:
    """Best effort per account: one that cannot be read is skipped (and said why), the others
    are adopted from; the skipped one is read again on the next tick."""
    with rt.pool.connection() as conn:
        live = [a for a in accounts.all_accounts(conn) if a.mode == "live" and (not chosen or a.account in chosen)]
    reads = []
    for acct in live:
        with rt.pool.connection() as conn:
            read_at = _db_now(conn)
        try:
            _a, adapter = rt.service.book.get(acct.account)
            positions = adapter.positions()
        except VENUE_SIDE as exc:
            RECONCILIATION_ERRORS.labels("venue_unavailable").inc()
            log.warning("venue positions not read: the venue did not answer; adoption waits for the next tick",
                        extra={"account": acct.account, "venue": acct.venue, "reason": str(exc)})
            continue
        except KEYS_SIDE as exc:
            RECONCILIATION_ERRORS.labels("keys_unavailable").inc()
            log.warning("venue positions not read: the account's keys cannot be opened; store its keys, or set "
                        "KAIROS_EXCHANGE_KEK (or _PREVIOUS) to the key they were sealed with (docs/OPERATIONS.md)",
                        extra={"account": acct.account, "venue": acct.venue, "reason": str(exc)})
            continue
        reads.append(PositionsRead(acct.account, acct.venue, read_at, positions))
    return reads


def record_marks(conn: psycopg.Connection, book: AccountBook, chosen: Sequence[str] | None) -> None:
    """The marks of every symbol with an open position, one public request per venue."""
    for want in marks.wanted(conn, chosen):
        observed_at = _db_now(conn)
        seen = marks.read(want, lambda account, symbols: book.get(account)[1].marks(symbols),
                          unanswered=VENUE_SIDE + KEYS_SIDE)
        n = marks.record(conn, want.venue, seen, observed_at)
        log.info("mark prices recorded", extra={"venue": want.venue, "symbols": n})


def _db_now(conn: psycopg.Connection) -> datetime:
    """The database's clock (not the transaction's start): what "since the read" is compared with."""
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]
