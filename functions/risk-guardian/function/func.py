"""risk-guardian (``cmd.order_intent``, ``exec.fill``, ``norm.ticker``, cron every minute -> ``cmd.execute_trade``,
``risk.rejected``, ``risk.alert``).

Every order intent becomes either one approved trade command (its approval row, which the
executor requires for entries on LIVE and SHADOW accounts, written in the same transaction)
or a rejection with its reason code and the numbers that decided it
(``kairos.risk.guardian``). Between intents, on every fill, every price move of a held symbol
(``kairos.risk.watch``) and every minute, the daily-loss limits are checked against the
portfolio's PnL: a breach engages the scope's kill switch.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import Ticker
from kairos.contracts.strategies import OrderIntent
from kairos.risk import guardian, watch
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    if isinstance(event.data, OrderIntent):
        decision = guardian.Guardian(guardian.GuardianSettings.from_env(ctx.env)).decide(ctx.conn, event.data)
        return guardian.events(event, decision, ctx.source)
    if isinstance(event.data, Ticker):
        return watch.price_events(ctx.conn, event, ctx.source)  # a price move of a held symbol
    # a fill or the minute's tick: the daily-loss limits against the PnL now
    return guardian.alert_events(guardian.watch(ctx.conn), ctx.source, event)


def new() -> KairosFunction:
    return KairosFunction("risk-guardian", handle)
