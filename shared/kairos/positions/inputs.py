"""From the execution service's contracts to the core's inputs.

``exec.fill`` (``OrderFill``) says what traded; what the order was *for* (entry, exit or
protection, which TP level, reduce-only, how much is left, the position side in hedge mode)
is in the execution service's order row and the command that created it. The integration
reads those and passes them here; this module only maps fields, so the projection function
stays a thin shell.
"""

from __future__ import annotations

from decimal import Decimal

from kairos.contracts.execution import OrderFill
from kairos.positions.model import Fill, FillIntent, OrderSide, PositionSide, ProtectiveKind


def fill_from_exec(
    event: OrderFill,
    *,
    intent: FillIntent,
    reduce_only: bool,
    strategy_id: str | None = None,
    tag: ProtectiveKind | None = None,
    tp_level: int | None = None,
    position_side: PositionSide | None = None,
    order_remaining: Decimal | None = None,
    fee_in_quote: Decimal | None = None,
) -> Fill:
    """The core's ``Fill`` for one ``exec.fill``.

    ``fee_in_quote``: the fee converted to the settlement asset when the venue charged another
    asset (BNB discounts); when None, the event's fee is taken as is. Raises pydantic's
    ValidationError for a fill with a non-positive quantity or price (never a valid trade).
    """
    return Fill(
        venue_trade_id=event.venue_trade_id,
        order_id=event.venue_order_id,
        client_order_id=event.client_order_id,
        account=event.account,
        venue=event.venue,
        symbol=event.symbol,
        side=OrderSide(event.side),
        quantity=event.quantity,
        price=event.price,
        fee=event.fee if fee_in_quote is None else fee_in_quote,
        fee_asset=event.fee_asset,
        reduce_only=reduce_only,
        position_side=position_side,
        occurred_at=event.traded_at,
        intent=intent,
        tag=tag,
        tp_level=tp_level,
        strategy_id=strategy_id,
        order_remaining=order_remaining,
    )
