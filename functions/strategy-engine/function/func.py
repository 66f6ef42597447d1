"""strategy-engine (``norm.candle`` -> ``signal.generated``, ``cmd.order_intent``,
``event.strategy``).

For every RUNNING strategy whose universe holds the closed candle, evaluate its rules on the
stored candle window ending at that candle and emit the signal and the order intent of each
decision, once per (strategy version, symbol, candle open time). After the executor's
recovery stopped strategies, every strategy running since before it is stopped first
(``kairos.strategies.engine``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import Candle
from kairos.runtime import Context, KairosFunction
from kairos.strategies import engine


def handle(event: Envelope[Candle], ctx: Context) -> list[Envelope[Any]]:
    return engine.on_candle(ctx.conn, event.data, event)


def new() -> KairosFunction:
    return KairosFunction("strategy-engine", handle)
