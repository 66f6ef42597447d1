"""Commands (``cmd.*`` topics): imperative requests addressed to one stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kairos.contracts.registry import register
from kairos.contracts.types import Contract, PositiveAmount, UtcDatetime

OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop_market", "take_profit_market", "trailing_stop_market"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
Intent = Literal["entry", "exit", "protective"]


@register("kairos.cmd.execute_trade", 1)
class ExecuteTrade(Contract):
    """Execute one trade on one venue account. ``command_id`` is the idempotency key."""

    command_id: str = Field(min_length=8, max_length=64)
    account: str
    venue: str
    symbol: str
    side: OrderSide
    order_type: OrderType = "market"
    quantity: PositiveAmount
    limit_price: PositiveAmount | None = None
    stop_price: PositiveAmount | None = None
    reduce_only: bool = False
    time_in_force: TimeInForce | None = None
    strategy_id: str
    intent: Intent = "entry"
    expires_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _prices_match_type(self) -> ExecuteTrade:
        if self.order_type == "limit" and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type in ("stop_market", "take_profit_market") and self.stop_price is None:
            raise ValueError(f"a {self.order_type} order needs stop_price")
        return self
