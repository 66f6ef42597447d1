"""reconciler (cron, every minute; on demand by sending it a tick): every non-final order of
the last 24 h is compared with the venue; missing transitions and fills become events,
every correction is audited, lost and orphan orders are alerted.

Order events and fills are written by ``kairos.execution.reconcile`` in the short
transactions that apply them (the venue is read outside any transaction) and published
at once; the alerts of the run leave through this tick's outbox.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import PingTick
from kairos.execution.wiring import ExecutionRuntime
from kairos.runtime import Context, KairosFunction


class ReconcilerFunction(KairosFunction):
    def __init__(self) -> None:
        self.rt: ExecutionRuntime | None = None
        super().__init__("reconciler", self.reconcile, on_ready=self._build)

    def _build(self, fn: KairosFunction) -> None:
        if self.rt is None:
            self.rt = ExecutionRuntime.from_env(self.env, self.name)

    def reconcile(self, event: Envelope[PingTick], ctx: Context) -> list[Envelope[Any]]:
        assert self.rt is not None
        accounts = (event.data.args or {}).get("accounts")
        report = self.rt.reconciler.run(accounts=accounts)
        self.publish_rows(report.outbox_rows)
        return [
            derive_event(event, alert, source=ctx.source, partition_key="reconciler", index=i)
            for i, alert in enumerate(report.alerts)
        ]

    def stop(self) -> None:
        super().stop()
        if self.rt is not None:
            self.rt.close()
            self.rt = None


def new() -> KairosFunction:
    return ReconcilerFunction()
