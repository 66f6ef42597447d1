"""portfolio-snapshot (cron ``0 * * * *`` -> nothing): every hour one ``portfolio_snapshots`` row
per account (balance, realized and unrealized PnL, equity, daily PnL, holdings, "as of"),
written once per hour slot (``kairos.portfolio.ledger.snapshot``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.portfolio import ledger
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    now = datetime.now(UTC)
    ledger.snapshot(ctx.conn, now.replace(minute=0, second=0, microsecond=0), now)
    return []


def new() -> KairosFunction:
    return KairosFunction("portfolio-snapshot", handle)
