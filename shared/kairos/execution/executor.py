"""The executor stage: each trade, cancel or amend command goes to the venue that executes it.

- ``ExecuteTrade`` for the paper venue (``near_intents``): the paper executor, whose result is
  an output of the delivery's transaction like any handler's.
- Everything else: the execution service of the LIVE and SHADOW accounts. It commits the
  order row, calls the venue and records the outcome, each in its own short transaction on
  its own pool; the events it committed are handed to the runtime's publisher at once, and
  the delivery's inbox transaction commits last, so a crash anywhere is a redelivery that
  finds the order and asks the venue before it would ever send again.

At start the venue clock of every LIVE account is measured once (alerts as the clock guard
raises them). Until recovery reconciled every order a previous process left in flight,
readiness says RECOVERING and the runtime answers every delivery 503 (retried later).

A command whose venue outcome is pending (sent, no answer; lookups failing) is acknowledged
once its intent is durable: a trade's order row, a cancel's request, an amend's cancel
request and replacement order. The executor's pending resolver finishes them
(``kairos.execution.pending``), so a delivery never dead-letters, nor holds its partition
behind retries of, a command that merely waits for the venue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.envelope import Envelope
from kairos.execution.clock_guard import check_at_start
from kairos.execution.paper import PAPER_VENUE, execute_paper
from kairos.execution.pending import PendingResolver
from kairos.execution.recovery import Recovery
from kairos.execution.service import OutcomePending
from kairos.execution.wiring import ExecutionRuntime
from kairos.runtime import Context
from kairos.runtime.recorder import OutboxRow

log = logging.getLogger(__name__)


class Executor:
    """The execution runtime and the recovery of this process, and the handler that uses them."""

    def __init__(self) -> None:
        self.rt: ExecutionRuntime | None = None
        self.recovery: Recovery | None = None
        self.pending: PendingResolver | None = None

    def start(self, env: Mapping[str, str], function: str, publish: Callable[[Sequence[OutboxRow]], None]) -> None:
        """Build the service and start recovery (once; a restarted runtime keeps both)."""
        if self.rt is None:
            self.rt = ExecutionRuntime.from_env(env, function)
            # The clock first: entries are checked against a reading from this start, not one
            # up to a minute old (the clock guard's cron).
            timeout_ms = int(env.get("KAIROS_EXEC_VENUE_TIMEOUT_MS", "3000"))
            publish(check_at_start(self.rt.pool, function, timeout_ms))
            self.recovery = Recovery(function, self.rt, publish)
            self.recovery.start()
            self.pending = PendingResolver(self.rt.service, publish)
            self.pending.start(function)

    def readiness(self) -> tuple[bool, str]:
        return self.recovery.readiness() if self.recovery else (False, "RECOVERING: not started")

    def handle(self, event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
        data = event.data
        if isinstance(data, ExecuteTrade) and data.venue == PAPER_VENUE:
            return [execute_paper(ctx.conn, event, ctx.source)]
        assert self.rt is not None, "deliveries are answered 503 until start() ran"
        try:
            if isinstance(data, ExecuteTrade):
                rows = self.rt.service.execute(data, event)
            elif isinstance(data, CancelOrder):
                rows = self.rt.service.cancel(data)
            elif isinstance(data, AmendOrder):
                rows = self.rt.service.amend(data, event)
            else:  # the catalog only routes the three command types here
                return []
        except OutcomePending as exc:
            # the order row (or the cancel request, or the amend's replacement) is durable:
            # the command is acknowledged and the pending resolver (kairos.execution.pending)
            # finishes it; no dead letter
            log.warning(
                "outcome pending; command acknowledged, the executor resolves it",
                extra={"command_id": getattr(data, "command_id", None), "reason": str(exc)},
            )
            return []
        ctx.publish(rows)
        return []

    def stop_recovery(self) -> None:
        """Before the runtime stops: a recovery or resolver still running must not publish
        into a closed producer."""
        if self.recovery is not None:
            self.recovery.stop()
        if self.pending is not None:
            self.pending.stop()

    def close(self) -> None:
        if self.rt is not None:
            self.rt.close()
            self.rt = None
