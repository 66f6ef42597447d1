"""reconciler (cron, every minute; on demand by sending it a tick): every non-final order of
the last 24 h is compared with the venue; missing transitions and fills become events,
every correction is audited, lost and orphan orders are alerted. Then positions held at
the venue that no fill of ours explains (opened by hand) are adopted as unmanaged
positions, alerted, and handed to position-sync (protected when the configuration says so).
Last, the mark prices of the symbols with open positions are recorded for position-sync
(trails and "price beyond the stop"), which cannot reach a venue itself.

Order events and fills are written by ``kairos.execution.reconcile`` in the short
transactions that apply them (the venue is read outside any transaction) and published
at once; the alerts and adoptions of the run leave through this tick's outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import PingTick
from kairos.execution import accounts
from kairos.venues.port import VenuePosition
from kairos.execution.wiring import ExecutionRuntime
from kairos.portfolio import marks
from kairos.portfolio.adoption import adopt_from_venue
from kairos.portfolio.config import PositionsConfig
from kairos.runtime import Context, KairosFunction

log = logging.getLogger("kairos.reconciler")


@dataclass(frozen=True)
class PositionsRead:
    """One LIVE account's venue positions and the database time just before they were read."""

    account: str
    venue: str
    read_at: datetime
    positions: list[VenuePosition]


class ReconcilerFunction(KairosFunction):
    def __init__(self) -> None:
        self.rt: ExecutionRuntime | None = None
        super().__init__("reconciler", self.reconcile, on_ready=self._build)

    def _build(self, fn: KairosFunction) -> None:
        if self.rt is None:
            PositionsConfig.from_env(self.env)  # a wrong protection text stops start-up, not a tick
            self.rt = ExecutionRuntime.from_env(self.env, self.name)

    def reconcile(self, event: Envelope[PingTick], ctx: Context) -> list[Envelope[Any]]:
        assert self.rt is not None
        chosen = (event.data.args or {}).get("accounts")
        # Positions first: every fill in them is then either recorded by the run below or
        # seen as in flight by the adoption's guard, so our own fills are never adopted.
        reads = self._read_positions(chosen)
        report = self.rt.reconciler.run(accounts=chosen)
        self.publish_rows(report.outbox_rows)
        out: list[Envelope[Any]] = [
            derive_event(event, alert, source=ctx.source, partition_key="reconciler", index=i)
            for i, alert in enumerate(report.alerts)
        ]
        config = PositionsConfig.from_env(self.env)
        for read in reads:
            out += adopt_from_venue(
                ctx.conn, read.account, read.venue, read.positions, read.read_at, event, config, ctx.source,
                index_from=len(out),
            )
        self._record_marks(ctx, chosen)
        return out

    def _record_marks(self, ctx: Context, chosen: list[str] | None) -> None:
        """Last in the tick, so the marks position-sync reads over the next minute are fresh."""
        assert self.rt is not None
        book = self.rt.service.book
        for want in marks.wanted(ctx.conn, chosen):
            row = ctx.conn.execute("SELECT clock_timestamp()").fetchone()
            assert row is not None
            seen = marks.read(want, lambda account, symbols: book.get(account)[1].marks(symbols))
            n = marks.record(ctx.conn, want.venue, seen, row[0])
            log.info("mark prices recorded", extra={"venue": want.venue, "symbols": n})

    def _read_positions(self, chosen: list[str] | None) -> list[PositionsRead]:
        """Best effort per account: a venue that cannot answer is retried on the next tick."""
        assert self.rt is not None
        with self.rt.pool.connection() as conn:
            live = [a for a in accounts.all_accounts(conn) if a.mode == "live" and (not chosen or a.account in chosen)]
        reads = []
        for acct in live:
            try:
                with self.rt.pool.connection() as conn:
                    row = conn.execute("SELECT clock_timestamp()").fetchone()
                assert row is not None
                _a, adapter = self.rt.service.book.get(acct.account)
                reads.append(PositionsRead(acct.account, acct.venue, row[0], adapter.positions()))
            except Exception as exc:
                log.warning("venue positions not read; adoption waits for the next tick",
                            extra={"account": acct.account, "reason": str(exc)})
        return reads

    def stop(self) -> None:
        super().stop()
        if self.rt is not None:
            self.rt.close()
            self.rt = None


def new() -> KairosFunction:
    return ReconcilerFunction()
