"""executor: trade, cancel and amend commands -> orders at a venue, exactly once per command id.

Routing by account:
- venue ``near_intents``: the paper executor of the first loop (``paper_executions``), as before;
- accounts configured LIVE or SHADOW (``exec_accounts``): ``kairos.execution.service``. The
  order row is committed, then the venue is called, then the outcome is recorded, each in
  its own short transaction on the service's own pool (see docs/EXECUTION.md); this
  delivery's inbox transaction commits last, so a crash anywhere is a redelivery that
  finds the order and asks the venue before it would ever send again.

The function starts RECOVERING (readiness 503, deliveries 503) until recovery reconciled
every in-flight order with the venue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kairos.contracts.codec import envelope_from_json, envelope_to_json
from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.domain.paper import paper_fill
from kairos.execution.recovery import Recovery
from kairos.execution.wiring import ExecutionRuntime
from kairos.runtime import Context, KairosFunction
from kairos.runtime.recorder import OutboxRow

PAPER_VENUE = "near_intents"


def paper(event: Envelope[ExecuteTrade], ctx: Context) -> list[Envelope[Any]]:
    """The NEAR Intents paper executor: the result is stored once per command id."""
    cmd = event.data
    result = paper_fill(cmd, now=datetime.now(UTC))
    out = derive_event(event, result, source=ctx.source, partition_key=f"{cmd.account}|{cmd.symbol}")
    inserted = ctx.conn.execute(
        "INSERT INTO paper_executions (command_id, event_id, result_event) VALUES (%s, %s, %s) "
        "ON CONFLICT (command_id) DO NOTHING RETURNING 1",
        (cmd.command_id, event.meta.id, envelope_to_json(out)),
    ).fetchone()
    if inserted:
        return [out]
    stored = ctx.conn.execute(
        "SELECT result_event::text FROM paper_executions WHERE command_id = %s", (cmd.command_id,)
    ).fetchone()
    assert stored is not None
    return [envelope_from_json(stored[0])]


class Executor:
    """Holds the execution runtime and the recovery state of this process."""

    def __init__(self) -> None:
        self.rt: ExecutionRuntime | None = None
        self.recovery: Recovery | None = None
        self.fn: KairosFunction | None = None

    def on_ready(self, fn: KairosFunction) -> None:
        self.fn = fn
        if self.rt is None:
            self.rt = ExecutionRuntime.from_env(fn.env, fn.name)
            self.recovery = Recovery(fn.name, self.rt, self.publish)
            self.recovery.start()

    def readiness(self) -> tuple[bool, str]:
        return self.recovery.readiness() if self.recovery else (False, "RECOVERING: not started")

    def publish(self, rows: list[OutboxRow]) -> None:
        """The order's events are committed already: the runtime's publisher sends them."""
        if self.fn is not None:
            self.fn.publish_rows(rows)

    def handle(self, event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
        data = event.data
        if isinstance(data, ExecuteTrade) and data.venue == PAPER_VENUE:
            return paper(event, ctx)
        assert self.rt is not None
        if isinstance(data, ExecuteTrade):
            rows = self.rt.service.execute(data, event)
        elif isinstance(data, CancelOrder):
            rows = self.rt.service.cancel(data)
        elif isinstance(data, AmendOrder):
            rows = self.rt.service.amend(data, event)
        else:  # the catalog only routes the three command types here
            return []
        self.publish(rows)
        return []


class ExecutorFunction(KairosFunction):
    """The runtime's function object plus the execution service's lifecycle."""

    def __init__(self) -> None:
        self.execution = Executor()
        super().__init__(
            "executor", self.execution.handle, on_ready=self.execution.on_ready, readiness=self.execution.readiness
        )

    def stop(self) -> None:
        if self.execution.recovery is not None:
            self.execution.recovery.stop()
        super().stop()
        if self.execution.rt is not None:
            self.execution.rt.close()
            self.execution.rt = None


def new() -> KairosFunction:
    return ExecutorFunction()
