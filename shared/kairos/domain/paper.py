"""Paper execution: a deterministic fill at the reference price, minus slippage and fee."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.execution import TradeResult
from kairos.domain.reference_prices import pair_price

SLIPPAGE = Decimal("0.0005")  # 5 bps against us
FEE_RATE = Decimal("0.0002")  # 2 bps of notional
PRICE_PLACES = Decimal("0.00000001")


def paper_fill(cmd: ExecuteTrade, now: datetime) -> TradeResult:
    """The outcome of ``cmd`` on the paper venue at time ``now`` (pure)."""
    common = dict(
        command_id=cmd.command_id,
        account=cmd.account,
        venue=cmd.venue,
        symbol=cmd.symbol,
        side=cmd.side,
        requested_quantity=cmd.quantity,
        executed_at=now,
        mode="paper",
    )
    if cmd.expires_at is not None and cmd.expires_at < now:
        return TradeResult(
            status="expired", filled_quantity=Decimal(0), reason="command expired before execution", **common
        )  # type: ignore[arg-type]
    mark = pair_price(cmd.symbol)
    if mark is None:
        return TradeResult(
            status="rejected", filled_quantity=Decimal(0), reason=f"paper venue has no price for {cmd.symbol}", **common
        )  # type: ignore[arg-type]
    adverse = Decimal(1) + SLIPPAGE if cmd.side == "buy" else Decimal(1) - SLIPPAGE
    price = (mark * adverse).quantize(PRICE_PLACES)
    if (
        cmd.order_type == "limit"
        and cmd.limit_price is not None
        and ((cmd.side == "buy" and price > cmd.limit_price) or (cmd.side == "sell" and price < cmd.limit_price))
    ):
        return TradeResult(
            status="canceled", filled_quantity=Decimal(0), reason="limit not marketable on the paper venue", **common
        )  # type: ignore[arg-type]
    fee = (price * cmd.quantity * FEE_RATE).quantize(PRICE_PLACES)
    return TradeResult(
        status="filled",
        filled_quantity=cmd.quantity,
        average_price=price,
        fee=fee,
        fee_asset=cmd.symbol.partition("/")[2],
        **common,
    )  # type: ignore[arg-type]
