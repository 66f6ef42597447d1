"""Crash recovery: an executor starts RECOVERING and accepts nothing until every in-flight
order was reconciled with the venue; then HEALTHY and a ``RECOVERY_COMPLETE`` alert.

In flight means an outcome we do not know (``states.IN_FLIGHT``: submitted without an
answer, unknown, canceling). Resting orders (take-profits, stop-losses, limits) are known:
the reconciler function follows them every minute, so they neither delay readiness nor
count as work the previous process left open.

While RECOVERING the function's readiness answers 503 and every delivery is answered 503
(retried later), so no new order can race the reconciliation. A venue that cannot be
asked keeps us RECOVERING (a failed query is not an answer) and we try again.

When recovery found orders in flight (the previous process died with work open),
strategies are stopped (``strategy_control`` scope ``all``) until an operator resumes
them. A clean start (the previous process drained, or another instance starting for load)
is HEALTHY at once and stops nothing, however many protective orders rest at the venue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kairos.catalog import load_catalog
from kairos.contracts.envelope import new_event, stable_id
from kairos.contracts.ops import Alert
from kairos.execution.reconcile import ReconcileReport
from kairos.execution.states import IN_FLIGHT
from kairos.execution.wiring import ExecutionRuntime
from kairos.runtime.recorder import OutboxRow, append_outbox

log = logging.getLogger(__name__)


class Recovery:
    def __init__(
        self, function: str, runtime: ExecutionRuntime, publish: Callable[[list[OutboxRow]], None], retry_s: float = 2.0
    ) -> None:
        self.function = function
        self.rt = runtime
        self.publish = publish
        self.retry_s = retry_s
        self.state = "RECOVERING"
        self.report: ReconcileReport | None = None
        self.done = threading.Event()
        self._stop = threading.Event()

    def readiness(self) -> tuple[bool, str]:
        return (True, "HEALTHY") if self.done.is_set() else (False, "RECOVERING: reconciling in-flight orders")

    def start(self) -> None:
        """Finish at once when nothing is in flight (the common clean start); otherwise
        reconcile in the background while readiness answers 503."""
        self._health("RECOVERING")
        if self._in_flight() == 0:
            self._finish(0, None, 0.0)
            return
        threading.Thread(target=self.run, name=f"{self.function}-recovery", daemon=True).start()

    def _health(self, state: str) -> None:
        """The recovery state where the risk guardian reads it (``execution_health``): it
        rejects entries while an executor is RECOVERING, and before any executor said."""
        with self.rt.pool.connection() as conn:
            conn.execute(
                "INSERT INTO execution_health (function, state) VALUES (%s, %s) ON CONFLICT (function)"
                " DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
                (self.function, state),
            )

    def _in_flight(self) -> int:
        """Orders of the last 24 h whose outcome is unknown (see the module docstring)."""
        with self.rt.pool.connection() as conn:
            r = conn.execute(
                "SELECT count(*) FROM orders WHERE state = ANY(%s) AND created_at > now() - interval '24 hours'",
                ([str(s) for s in sorted(IN_FLIGHT)],),
            ).fetchone()
        return int(r[0]) if r else 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        started = time.monotonic()
        in_flight = -1
        while not self._stop.is_set():
            try:
                if in_flight < 0:
                    in_flight = self._in_flight()
                report = self.rt.reconciler.run()
                self.publish(report.outbox_rows)
                if report.query_failures == 0:
                    self.report = report
                    break
                log.warning("recovery incomplete, retrying", extra={"failed": report.query_failures})
            except Exception:
                log.exception("recovery run failed, retrying")
            time.sleep(self.retry_s)
        if self._stop.is_set():
            return
        self._finish(in_flight, self.report, time.monotonic() - started)

    def _finish(self, in_flight: int, report: ReconcileReport | None, elapsed: float) -> None:
        """Stop strategies when work was open, raise ``RECOVERY_COMPLETE``, become HEALTHY.
        ``report`` is None on a clean start (nothing was reconciled)."""
        checked = report.checked if report else 0
        run_id = report.run_id if report else f"clean-{time.time_ns()}"
        message = (
            f"recovery reconciled {checked} orders ({in_flight} in flight) in {elapsed:.1f}s"
            if report
            else "clean start: no order in flight, nothing reconciled, strategies untouched"
        )
        with self.rt.pool.connection() as conn, conn.transaction():
            if in_flight:
                conn.execute(
                    "INSERT INTO strategy_control (scope, stopped, reason, updated_by) VALUES ('all', true, %s, %s)"
                    " ON CONFLICT (scope) DO UPDATE SET stopped = true, reason = EXCLUDED.reason,"
                    " updated_by = EXCLUDED.updated_by, updated_at = now()",
                    (f"executor recovered with {in_flight} in-flight orders; review, then resume", self.function),
                )
            alert = Alert(
                severity="warning" if in_flight else "info",
                code="RECOVERY_COMPLETE",
                component=self.function,
                message=message,
                action="strategies stay stopped until an operator resumes them" if in_flight else None,
                details={
                    "in_flight": in_flight,
                    "corrected": report.corrected if report else 0,
                    "run_id": run_id,
                    "strategies_stopped": bool(in_flight),
                },
            )
            env = new_event(
                alert,
                source=f"/kairos/{self.function}",
                partition_key=self.function,
                event_id=stable_id("kairos.recovery", self.function, run_id),
            )
            out_rows = [append_outbox(conn, self.function, [(_alert_topic(self.function), env)])[0]]
            for i, found in enumerate(report.alerts if report else []):  # e.g. orphans the recovery run saw
                extra = new_event(
                    found,
                    source=f"/kairos/{self.function}",
                    partition_key=self.function,
                    event_id=stable_id("kairos.recovery.alert", run_id, i),
                )
                out_rows.append(append_outbox(conn, self.function, [(_alert_topic(self.function), extra)])[0])
        self.publish(out_rows)
        self._health("HEALTHY")
        self.state = "HEALTHY"
        self.done.set()
        log.info("recovery complete: HEALTHY", extra={"in_flight": in_flight, "elapsed_s": round(elapsed, 3)})


def _alert_topic(function: str) -> str:
    catalog = load_catalog()
    return catalog.output_topic(catalog.function(function), "kairos.ops.alert")
