"""The risk stage's stand-in: an order intent becomes one market ``cmd.execute_trade``, as is.

No check is made here: this is the slot the risk guardian takes (it subscribes to
``cmd.order_intent`` in its place). The command id is derived from the intent id, so a
redelivered intent gives the same command and the executor executes it once.
"""

from __future__ import annotations

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.strategies import OrderIntent

SOURCE = "kairos/intent-passthrough"


def command_id(intent: OrderIntent) -> str:
    """``ex-`` + the intent id's hash part: deterministic, within the command id's 64 characters."""
    return "ex-" + intent.intent_id.split("-", 1)[-1]


def to_command(intent: OrderIntent) -> ExecuteTrade:
    return ExecuteTrade(
        command_id=command_id(intent),
        account=intent.account,
        venue=intent.venue,
        symbol=intent.symbol,
        side=intent.side,
        order_type="market",
        quantity=intent.quantity,
        reduce_only=intent.reduce_only,
        strategy_id=intent.strategy_id,
        intent="exit" if intent.kind == "exit" else "entry",
        client_tag=intent.intent_id[:64],
    )


def handle(event: Envelope[OrderIntent], source: str = SOURCE) -> list[Envelope[ExecuteTrade]]:
    cmd = to_command(event.data)
    return [derive_event(event, cmd, source=source, partition_key=f"{cmd.account}|{cmd.symbol}")]
