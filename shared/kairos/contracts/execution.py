"""Execution outcomes (``exec.*`` topics): facts about what a venue did."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

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
    # added in v1 without breaking it (optional): how to find the order at the venue
    client_order_id: str | None = None
    venue_order_id: str | None = None


class OrderState(StrEnum):
    """An order's state: the execution service's lifecycle (``kairos.execution.states`` holds
    its transitions), what ``exec.order_event`` reports and what protection reads."""

    NEW = "NEW"  # committed locally, never sent
    SUBMITTED = "SUBMITTED"  # about to be / being sent
    UNKNOWN = "UNKNOWN"  # sent, outcome not confirmed
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    CANCELING = "CANCELING"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


OrderStateName = Annotated[OrderState, WithJsonSchema({"enum": [s.value for s in OrderState], "type": "string"})]
"""An ``OrderState`` in a payload: a plain string enum on the wire (inline in the schema, not a
``$ref``; the field gives the title pydantic would give a plain enum field)."""


@register("kairos.exec.order_event", 1)
class OrderEvent(Contract):
    """One transition of one order (``order_events`` row): every state change is published."""

    command_id: str
    client_order_id: str
    account: str
    venue: str
    symbol: str
    side: Literal["buy", "sell"]
    order_type: str
    seq: int
    from_state: OrderStateName = Field(title="From State")
    trigger: str
    to_state: OrderStateName = Field(title="To State")
    venue_order_id: str | None = None
    filled_quantity: Amount = Decimal("0")
    average_price: Amount | None = None
    reason: str | None = None
    actor: str
    mode: Literal["live", "shadow"]
    occurred_at: UtcDatetime


@register("kairos.exec.fill", 1)
class OrderFill(Contract):
    """One execution at the venue, published exactly once per venue trade id."""

    command_id: str
    client_order_id: str
    account: str
    venue: str
    symbol: str
    side: Literal["buy", "sell"]
    venue_order_id: str | None = None
    venue_trade_id: str
    quantity: Amount
    price: Amount
    fee: Amount = Decimal("0")
    fee_asset: str | None = None
    is_maker: bool | None = None
    traded_at: UtcDatetime
    mode: Literal["live", "shadow"]
