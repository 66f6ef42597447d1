"""Strategy events: what a strategy decided (``signal.generated``), what it asks the risk
stage to trade (``cmd.order_intent``), and its lifecycle (``strategy.started`` / ``stopped``).

The intent, not the trade command, is the contract between a strategy and everything
downstream: the risk stage (or, until it runs, a pass-through) decides whether and how an
intent becomes a ``cmd.execute_trade``. Every id here is derived from the decision's key
(strategy id, version, symbol, candle open time), so a redelivered, replayed or revised
candle can never produce a second, different intent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kairos.contracts.commands import OrderSide
from kairos.contracts.market_data import Timeframe
from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime

#: What an intent does to the strategy's position in the symbol.
#: entry: flat -> long/short; exit: long/short -> flat; reverse: long <-> short in one order.
IntentKind = Literal["entry", "exit", "reverse"]
#: The position a decision is about (for an exit: the one being closed).
PositionSide = Literal["long", "short"]
#: The four decisions a rule set can take.
SignalAction = Literal["enter_long", "exit_long", "enter_short", "exit_short"]
AccountMode = Literal["LIVE", "SHADOW"]


@register("kairos.signal.generated", 1)
class SignalGenerated(Contract):
    """One rule of a running strategy fired on one closed candle.

    ``values`` holds the indicator values (and the candle's close) the rule read, as decimal
    strings, so an operator can see why it fired; ``None`` for a value still warming up.
    """

    signal_id: str = Field(min_length=8, max_length=64, description="derived from strategy, version, symbol, candle")
    strategy_id: str
    strategy_version: int = Field(ge=1)
    strategy_name: str
    account: str
    venue: str
    symbol: str = Field(description="ccxt's unified symbol, e.g. BTC/USDT:USDT")
    timeframe: Timeframe
    candle_open_time: UtcDatetime
    action: SignalAction
    side: OrderSide = Field(description="the order side the action needs: buy to enter long or exit short")
    rule: str = Field(description="the rule that fired, e.g. entry.long")
    values: dict[str, Amount | None] = Field(default_factory=dict)


@register("kairos.cmd.order_intent", 1)
class OrderIntent(Contract):
    """A strategy asks to trade: the risk stage decides whether, and turns it into commands.

    ``intent_id`` is the idempotency key, derived from (strategy id, version, symbol, candle
    open time): one decision per strategy version, symbol and candle. ``quantity`` is the
    whole order's base quantity (a reverse: the open position plus the new one).
    ``price_reference`` is the candle close the size was computed at; ``stop_price`` the
    protective stop the sizing assumed (risk-per-trade sizing), if any.
    """

    intent_id: str = Field(min_length=8, max_length=64)
    strategy_id: str
    strategy_version: int = Field(ge=1)
    account: str
    venue: str
    symbol: str = Field(description="ccxt's unified symbol, e.g. BTC/USDT:USDT")
    side: OrderSide
    kind: IntentKind
    position_side: PositionSide = Field(description="entry/reverse: the position opened; exit: the one closed")
    quantity: PositiveAmount
    reduce_only: bool = False
    signal_id: str = Field(min_length=8, max_length=64)
    timeframe: Timeframe
    candle_open_time: UtcDatetime
    price_reference: PositiveAmount
    stop_price: PositiveAmount | None = None

    RULES = (
        "an exit intent must be reduce_only",
        "an entry or reverse intent must not be reduce_only",
    )

    @model_validator(mode="after")
    def _reduce_only_matches_kind(self) -> OrderIntent:
        if self.kind == "exit" and not self.reduce_only:
            raise ValueError("an exit intent must be reduce_only")
        if self.kind != "exit" and self.reduce_only:
            raise ValueError("an entry or reverse intent must not be reduce_only")
        return self


@register("kairos.strategy.started", 1)
class StrategyStarted(Contract):
    """An operator started a strategy version: from now on it evaluates closed candles."""

    strategy_id: str
    strategy_version: int = Field(ge=1)
    name: str
    account: str
    mode: AccountMode
    actor: str = Field(description="who started it (operator name or 'cli')")
    at: UtcDatetime


@register("kairos.strategy.stopped", 1)
class StrategyStopped(Contract):
    """A strategy stopped emitting: an operator stopped it, or the executor's recovery did."""

    strategy_id: str
    strategy_version: int = Field(ge=1)
    name: str
    account: str
    actor: str = Field(description="who stopped it: an operator, or 'recovery'")
    reason: str
    at: UtcDatetime
