"""Orders whose outcome is pending are the executor's to finish, not the delivery's.

A trade command whose order reached the venue with no answer (a timeout, a lost reply) or
whose lookup fails is in SUBMITTED or UNKNOWN. The order row is durable, so the command
itself has done its part: the executor acknowledges it (a 204, never a dead letter) and
this resolver, running in every executor process, drives such orders to an outcome the
same way a redelivery would — under the order's advisory lock, look the order up at the
venue, apply what the venue says, and re-send only when the venue positively does not
know it and its receive window has passed since our last attempt. A restart loses
nothing: the orders are found again in Postgres by the next process's resolver.

Cancels and amends work the same way: their intent is durable before the venue is called
(a row in ``order_cancel_requests``; an amend's replacement order committed in NEW), so
their commands are acknowledged too, and this resolver finishes what the venue left open:
an order with a cancel request that is not final yet (looked up first; a second cancel
leaves only after the receive window, so redeliveries never send duplicates), and an
amend's replacement still in NEW, placed once its target is final.

Why not keep answering 503: the delivery's retry budget is finite and the time to an
outcome is not (the venue's lookups may fail for minutes; a restart answers 503 while
RECOVERING), so a command whose outcome was merely pending ended on the dead-letter
topic. Dead letters are for permanent refusals only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from kairos.execution import repository as repo
from kairos.execution.service import ExecutionService, OutcomePending
from kairos.execution.states import OrderState
from kairos.runtime.recorder import OutboxRow
from psycopg.rows import dict_row

log = logging.getLogger(__name__)

PENDING_STATES = (OrderState.SUBMITTED, OrderState.UNKNOWN)
_FINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")


class PendingResolver:
    """Every ``interval_s``: drive each order whose outcome is pending and nobody else is
    driving: SUBMITTED/UNKNOWN, a requested cancel not final yet, an amend's replacement in NEW."""

    def __init__(
        self,
        service: ExecutionService,
        publish: Callable[[Sequence[OutboxRow]], None],
        *,
        interval_s: float = 2.0,
        min_age_s: float = 1.0,
        hours: int = 24,
    ) -> None:
        self.service = service
        self.publish = publish
        self.interval_s = interval_s
        self.min_age_s = min_age_s
        self.hours = hours
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str = "executor") -> None:
        self._thread = threading.Thread(target=self._loop, name=f"{name}-pending", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.resolve_once()
            except Exception:  # the next round tries again; the orders stay in Postgres
                log.exception("resolving pending orders failed; retrying")

    def pending_ids(self) -> list[int]:
        with self.service.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT o.id FROM orders o LEFT JOIN order_cancel_requests c ON c.order_id = o.id"
                " WHERE o.created_at > now() - make_interval(hours => %(hours)s) AND o.state <> ALL(%(final)s) AND ("
                "   (o.state = ANY(%(pending)s) AND o.created_at < now() - make_interval(secs => %(age)s))"
                "   OR (o.state = 'NEW' AND o.replaces_command_id IS NOT NULL"
                "       AND o.created_at < now() - make_interval(secs => %(age)s))"
                "   OR c.requested_at < now() - make_interval(secs => %(age)s))"
                " ORDER BY o.id",
                {
                    "hours": self.hours,
                    "final": list(_FINAL),
                    "pending": [str(s) for s in PENDING_STATES],
                    "age": self.min_age_s,
                },
            ).fetchall()
        return [int(r["id"]) for r in rows]

    def resolve_once(self) -> int:
        """One pass; returns how many orders reached an outcome the venue confirmed."""
        resolved = 0
        for order_id in self.pending_ids():
            if self._stop.is_set():
                break
            resolved += self._resolve(order_id)
        return resolved

    def _resolve(self, order_id: int) -> int:
        with self.service.pool.connection() as conn:
            order = repo.by_id(conn, order_id)
            got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (order.client_order_id,))
            row = got.fetchone()
            if not row or not row[0]:
                return 0  # a delivery or the reconciler drives it right now
            try:
                order = repo.by_id(conn, order_id)
                if order.final:
                    return 0
                _acct, adapter = self.service.book.get(order.account)
                try:
                    rows = self.service.resume(conn, order, adapter)
                except OutcomePending as exc:
                    log.info(
                        "order outcome still pending",
                        extra={"client_order_id": order.client_order_id, "reason": str(exc)},
                    )
                    return 0
                self.publish(rows)
                state = repo.by_id(conn, order_id).state
                log.info(
                    "pending order resolved", extra={"client_order_id": order.client_order_id, "state": str(state)}
                )
                return 1
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (order.client_order_id,))
