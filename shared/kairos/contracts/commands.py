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
    # added in v1 without breaking it (optional): trailing stops and a caller's tag
    activation_price: PositiveAmount | None = None
    callback_rate: PositiveAmount | None = Field(default=None, description="trailing distance in percent")
    client_tag: str | None = Field(default=None, max_length=64)

    RULES = (
        "a limit order needs limit_price",
        "a stop_market order needs stop_price",
        "a take_profit_market order needs stop_price",
        "a trailing_stop_market order needs callback_rate",
    )

    @model_validator(mode="after")
    def _prices_match_type(self) -> ExecuteTrade:
        if self.order_type == "limit" and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type in ("stop_market", "take_profit_market") and self.stop_price is None:
            raise ValueError(f"a {self.order_type} order needs stop_price")
        if self.order_type == "trailing_stop_market" and self.callback_rate is None:
            raise ValueError("a trailing_stop_market order needs callback_rate")
        return self


@register("kairos.cmd.cancel_order", 1)
class CancelOrder(Contract):
    """Cancel the order that ``target_command_id`` created. ``command_id`` is the idempotency key."""

    command_id: str = Field(min_length=8, max_length=64)
    target_command_id: str = Field(min_length=8, max_length=64)
    account: str
    venue: str
    symbol: str
    strategy_id: str
    reason: str | None = None


@register("kairos.cmd.amend_order", 1)
class AmendOrder(Contract):
    """Change an order's quantity or prices. Binance USD-M has no general amend, so the
    executor cancels ``target_command_id``'s order and places a replacement whose own
    idempotency key is ``command_id``."""

    command_id: str = Field(min_length=8, max_length=64)
    target_command_id: str = Field(min_length=8, max_length=64)
    account: str
    venue: str
    symbol: str
    strategy_id: str
    quantity: PositiveAmount | None = None
    limit_price: PositiveAmount | None = None
    stop_price: PositiveAmount | None = None

    RULES = ("an amend must change quantity, limit_price or stop_price",)

    @model_validator(mode="after")
    def _changes_something(self) -> AmendOrder:
        if self.quantity is None and self.limit_price is None and self.stop_price is None:
            raise ValueError("an amend must change quantity, limit_price or stop_price")
        return self
