"""intent-passthrough (``cmd.order_intent`` -> ``cmd.execute_trade``).

Stands in the risk stage's slot until it runs: every order intent becomes one market trade
command, unchanged, its command id derived from the intent id (``kairos.strategies.passthrough``).
The contract between strategies and what follows is the intent; the risk guardian replaces
this function by subscribing to ``cmd.order_intent`` itself.
"""

from __future__ import annotations

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope
from kairos.contracts.strategies import OrderIntent
from kairos.runtime import Context, KairosFunction
from kairos.strategies import passthrough


def handle(event: Envelope[OrderIntent], ctx: Context) -> list[Envelope[ExecuteTrade]]:
    return passthrough.handle(event, source=ctx.source)


def new() -> KairosFunction:
    return KairosFunction("intent-passthrough", handle)
