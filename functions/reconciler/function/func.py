"""reconciler (cron, every minute; on demand by sending it a tick): the venue's view against ours.

Every order resting at the venue (however old: a position's stop rests as long as it is held)
and every other non-final order of the last 24 h is compared with the venue: missing transitions and
fills become events, every correction is audited, lost and orphan orders are alerted. Then
positions held at the venue that no fill of ours explains (opened by hand) are adopted as
unmanaged positions, alerted, and handed to position-sync (protected when the configuration
says so). Last, the mark prices of the symbols with open positions are recorded for
position-sync (trails, "price beyond the stop"), which cannot reach a venue itself.
The steps and their order: ``kairos.portfolio.reconcile_tick``.

Each ``norm.ticker`` re-evaluates the SHADOW orders resting on its symbol at once, so a
SHADOW stop fills seconds after the price crosses it, not at the next minute
(``kairos.execution.shadow_ticks``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import Ticker
from kairos.execution.shadow_ticks import on_ticker
from kairos.execution.wiring import ExecutionRuntime
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.reconcile_tick import run_tick
from kairos.runtime import Context, KairosFunction


class ReconcilerFunction(KairosFunction):
    """The runtime's function object plus the execution runtime the tick reads the venue through."""

    def __init__(self) -> None:
        self.rt: ExecutionRuntime | None = None
        super().__init__("reconciler", self.reconcile, on_ready=self._build)

    def _build(self, fn: KairosFunction) -> None:
        if self.rt is None:
            PositionsConfig.from_env(self.env)  # a wrong protection text stops start-up, not a tick
            self.rt = ExecutionRuntime.from_env(self.env, self.name)

    def reconcile(self, event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
        assert self.rt is not None, "events are answered 503 until the runtime is built"
        if isinstance(event.data, Ticker):
            on_ticker(self.rt.reconciler, event.data, ctx.publish)
            return []
        return run_tick(ctx.conn, self.rt, event, PositionsConfig.from_env(ctx.env), ctx.source, ctx.publish)

    def stop(self) -> None:
        super().stop()
        if self.rt is not None:
            self.rt.close()
            self.rt = None


def new() -> KairosFunction:
    return ReconcilerFunction()
