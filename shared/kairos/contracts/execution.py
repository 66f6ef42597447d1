"""Execution outcomes (``exec.*`` topics): facts about what a venue did."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, UtcDatetime

TradeStatus = Literal["filled", "partially_filled", "canceled", "rejected", "expired"]


@register("kairos.exec.trade_result", 1)
class TradeResult(Contract):
    """The final outcome of one ``cmd.execute_trade`` command."""

    command_id: str
    account: str
    venue: str
    symbol: str
    side: Literal["buy", "sell"]
    status: TradeStatus
    requested_quantity: Amount
    filled_quantity: Amount
    average_price: Amount | None = None
    fee: Amount = Decimal("0")
    fee_asset: str | None = None
    reason: str | None = None
    executed_at: UtcDatetime
    mode: Literal["paper", "live", "shadow"] = "paper"
