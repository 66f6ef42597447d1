"""Reconciliation: bring every order resting at the venue (however old) and every other
non-final order of the last 24 h to the venue's truth.

Rules: the venue is authoritative for status and fills, the database for
intent; an order the venue has is never re-submitted (this module never sends an order);
an order the venue cannot find is marked lost only after ``lost_after_misses``
consecutive "not found" answers AND ``lost_grace_s`` since it was created: a failed query
is not an answer and changes nothing. Venue orders carrying our client-id prefix that the
database does not know are orphans: audited and alerted, never touched.

Every correction (transition, new fill, miss, loss, orphan, failed query) is a
``reconciliation_audit`` row. Orders an executor is driving right now (its advisory lock
is held) are skipped this round; the next round sees them.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from kairos.contracts.envelope import stable_id
from kairos.contracts.ops import Alert
from kairos.execution import repository as repo
from kairos.execution.client_ids import is_ours
from kairos.execution.service import ExecutionService
from kairos.execution.states import OrderState, Trigger
from kairos.runtime.recorder import OutboxRow
from kairos.venues.port import OrderNotFound, VenueError, VenueOrder

log = logging.getLogger(__name__)
S = OrderState
# DB states for which a bulk "open, nothing filled" answer is conclusive; CANCELING is always
# fetched on its own (a cancel may have landed after the bulk answer was taken)
_SNAPSHOT_STATES = (S.SUBMITTED, S.UNKNOWN, S.OPEN)


@dataclass
class ReconcileReport:
    run_id: str
    checked: int = 0
    corrected: int = 0
    skipped_busy: int = 0
    query_failures: int = 0
    lost: int = 0
    orphans: list[str] = field(default_factory=list)
    outbox_rows: list[OutboxRow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every in-flight order got an answer from the venue this run."""
        return self.query_failures == 0 and self.skipped_busy == 0


@dataclass
class ReconcileSettings:
    hours: int = 24
    lost_after_misses: int = 3
    lost_grace_s: float = 120.0
    workers: int = 8
    scan_orphans: bool = True


class OrderReconciler:
    """Brings our records of in-flight orders level with the venue's (fills, cancels, lost and
    orphan orders): the executor's own orders, not the protection of positions."""

    def __init__(self, service: ExecutionService, settings: ReconcileSettings | None = None) -> None:
        self.service = service
        self.settings = settings or ReconcileSettings()

    def run(self, *, accounts: list[str] | None = None) -> ReconcileReport:
        report = ReconcileReport(run_id=str(uuid.uuid4()))
        with self.service.pool.connection() as conn:
            orders = repo.in_flight(conn, hours=self.settings.hours, accounts=accounts)
        snapshots, open_ids = self._open_snapshots(orders)
        with ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="reconcile") as pool:
            for outcome in pool.map(lambda o: self._one(o, report.run_id, snapshots), orders):
                _count(report, outcome)
        if self.settings.scan_orphans:
            self._orphans(open_ids, report)
        log.info(
            "reconciliation run",
            extra={
                "run_id": report.run_id,
                "checked": report.checked,
                "corrected": report.corrected,
                "busy": report.skipped_busy,
                "failed": report.query_failures,
                "lost": report.lost,
                "orphans": len(report.orphans),
            },
        )
        return report

    def run_orders(self, orders: list[repo.OrderRow]) -> ReconcileReport:
        """Only ``orders``, each fetched on its own, one after the other: no bulk pass and no
        orphan scan. Each takes the same per-order lock and path as a full run (an order
        another run or an executor holds now is skipped as busy), so running this beside a
        full run, or again on the same orders, never applies a venue fill twice."""
        report = ReconcileReport(run_id=str(uuid.uuid4()))
        for order in orders:
            _count(report, self._one(order, report.run_id, {}))
        return report

    def _open_snapshots(
        self, orders: list[repo.OrderRow]
    ) -> tuple[dict[str, VenueOrder], dict[tuple[str, str], set[str]]]:
        """Bulk pass: the venue's open orders per (account, symbol), by client id.

        An order the bulk answer shows open and unfilled needs no request of its own; every
        other order (filled, canceled, missing, partially filled) is fetched one by one. A
        failed bulk query only means more individual fetches. Also returns the client ids
        open per LIVE (account, symbol), so the orphan scan does not ask the venue again.
        """
        groups = sorted({(o.account, o.symbol) for o in orders if o.state is not S.NEW})
        snap: dict[str, VenueOrder] = {}
        open_ids: dict[tuple[str, str], set[str]] = {}
        for account, symbol in groups:
            try:
                _acct, adapter = self.service.book.get(account)
                found = adapter.open_orders(symbol)
            except Exception as exc:  # fall back to one request per order
                log.warning("bulk open-orders query failed", extra={"account": account, "reason": str(exc)})
                continue
            for vo in found:
                snap[vo.client_order_id] = vo
            if adapter.mode == "live":  # a SHADOW adapter answers [] to mean "fetch each order"
                open_ids[(account, symbol)] = {vo.client_order_id for vo in found if vo.client_order_id}
        return snap, open_ids

    def _one(self, order: repo.OrderRow, run_id: str, snapshots: dict[str, VenueOrder]) -> tuple[str, list[OutboxRow]]:
        if order.state is S.NEW:
            return "agrees", []  # never sent: its command's redelivery drives it
        try:
            _acct, adapter = self.service.book.get(order.account)
        except Exception as exc:
            log.error("reconciliation cannot reach the account", extra={"account": order.account, "reason": str(exc)})
            return "failed", []
        with self.service.pool.connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (order.client_order_id,))
            row = got.fetchone()
            if not row or not row[0]:
                return "busy", []
            try:
                current = repo.by_id(conn, order.id)
                if current.final:
                    return "agrees", []
                seen = snapshots.get(current.client_order_id)
                try:
                    if seen is not None and seen.filled_quantity == 0 and current.state in _SNAPSHOT_STATES:
                        venue = seen  # open and untouched at the venue: the bulk answer is enough
                    else:
                        venue = adapter.fetch(current.symbol, current.client_order_id, conditional=current.conditional)
                except OrderNotFound:
                    return self._missing(conn, current, run_id)
                except VenueError as exc:
                    with conn.transaction():
                        repo.audit(conn, run_id, current.account, "query_failed", {"reason": str(exc)}, current.id)
                    return "failed", []
                out_rows = self.service.apply(conn, current, venue, actor="reconciler", run_id=run_id)
                if current.misses:
                    conn.execute("UPDATE orders SET misses = 0, first_missed_at = NULL WHERE id = %s", (current.id,))
                conn.execute("UPDATE orders SET checked_at = now() WHERE id = %s", (current.id,))
                out_rows += self._expire_if_due(conn, current, run_id)
                return ("corrected" if out_rows else "agrees"), out_rows
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (order.client_order_id,))

    def _expire_if_due(self, conn: psycopg.Connection, order: repo.OrderRow, run_id: str) -> list[OutboxRow]:
        """A resting order past its command's expiry is canceled at the venue and ends EXPIRED."""
        current = repo.by_id(conn, order.id)
        if current.final or current.expires_at is None or current.expires_at > datetime.now(UTC):
            return []
        if current.state not in (S.OPEN, S.PARTIALLY_FILLED, S.CANCELING):
            return []
        _acct, adapter = self.service.book.get(current.account)
        with conn.transaction():
            repo.audit(conn, run_id, current.account, "expire", {"expires_at": current.expires_at}, current.id)
        return self.service._cancel_locked(
            conn, current, adapter, reason="EXPIRED: the command's expiry passed", requested_by="reconciler-expiry"
        )

    def _missing(self, conn: psycopg.Connection, order: repo.OrderRow, run_id: str) -> tuple[str, list[OutboxRow]]:
        c = conn
        with c.transaction():
            r = c.execute(
                "UPDATE orders SET misses = misses + 1, first_missed_at = coalesce(first_missed_at, now()),"
                " checked_at = now() WHERE id = %s RETURNING misses, now() - created_at",
                (order.id,),
            ).fetchone()
            assert r is not None
            misses, age = int(r[0]), r[1].total_seconds()
            repo.audit(c, run_id, order.account, "miss", {"misses": misses, "state": order.state}, order.id)
            lose = (
                order.state in (S.SUBMITTED, S.UNKNOWN)
                and misses >= self.settings.lost_after_misses
                and age >= self.settings.lost_grace_s
            )
            if not lose:
                if order.state not in (S.SUBMITTED, S.UNKNOWN):
                    log.error(
                        "an acknowledged order is missing at the venue",
                        extra={"client_order_id": order.client_order_id, "state": order.state, "misses": misses},
                    )
                return "miss", []
            current = repo.by_id(c, order.id, lock=True)
            _o, out_rows = repo.transition(
                c,
                current,
                Trigger.LOSE,
                actor="reconciler",
                emitter=self.service.emitter,
                reason=f"LOST: the venue did not know it after {misses} checks over {age:.0f}s",
            )
            repo.audit(c, run_id, order.account, "lost", {"misses": misses, "age_s": age}, order.id)
        return "lost", out_rows

    def _orphans(self, already_open: dict[tuple[str, str], set[str]], report: ReconcileReport) -> None:
        """Open venue orders with our prefix the DB does not know; ``already_open``: the bulk
        pass's answers, reused instead of asking the venue twice in one run."""
        by_account: dict[str, set[str]] = defaultdict(set)
        with self.service.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT account, symbol FROM orders WHERE created_at > now() - make_interval(hours => %s)"
                " AND mode = 'live'",
                (self.settings.hours,),
            ).fetchall()
        for account, symbol in rows:
            by_account[account].add(symbol)
        for account, symbols in by_account.items():
            try:
                _acct, adapter = self.service.book.get(account)
                open_ids: set[str] = set()
                for s in sorted(symbols):
                    known = already_open.get((account, s))
                    found = adapter.open_client_ids(s) if known is None else known
                    open_ids |= {cid for cid in found if is_ours(cid)}
            except Exception as exc:  # best effort: an orphan scan never blocks reconciliation
                log.warning("orphan scan failed", extra={"account": account, "reason": str(exc)})
                continue
            if not open_ids:
                continue
            with self.service.pool.connection() as conn:
                known = {
                    r[0]
                    for r in conn.execute(
                        "SELECT client_order_id FROM orders WHERE client_order_id = ANY(%s)", (sorted(open_ids),)
                    )
                }
                orphans = sorted(open_ids - known)
                with conn.transaction():
                    for cid in orphans:
                        repo.audit(conn, report.run_id, account, "orphan", {"client_order_id": cid})
            for cid in orphans:
                report.orphans.append(cid)
                report.alerts.append(
                    Alert(
                        severity="critical",
                        code="ORPHAN_ORDER",
                        component="reconciler",
                        message=f"venue order {cid} of account {account} carries our prefix but is not in the DB",
                        action="inspect it at the venue; cancel it by hand if no command explains it",
                        details={"account": account, "client_order_id": cid},
                    )
                )


def _count(report: ReconcileReport, outcome: tuple[str, list[OutboxRow]]) -> None:
    kind, out_rows = outcome
    report.checked += 1
    report.outbox_rows += out_rows
    report.corrected += kind == "corrected"
    report.skipped_busy += kind == "busy"
    report.query_failures += kind == "failed"
    report.lost += kind == "lost"


def alert_event_id(run_id: str, index: int) -> str:
    return stable_id("kairos.ops.alert", run_id, index)
