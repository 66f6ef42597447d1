"""Builders of the positions domain for tests: fills, positions, orders and venue rules in one line each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from kairos.positions.fold import OpenDefaults, apply_fill
from kairos.positions.model import (
    Fill,
    FillIntent,
    OrderSide,
    OrderState,
    Position,
    PositionSide,
    Protection,
    ProtectiveKind,
    ProtectiveOrder,
    StopLoss,
    TakeProfitLevel,
    Trailing,
    TrailingMode,
    VenueRules,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT, VENUE, SYMBOL = "acct-1", "binanceusdm", "ETH/USDT:USDT"
RULES = VenueRules(tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_quantity=Decimal("0.001"))
_ids = count(1)


def D(text: str | int | Decimal) -> Decimal:
    return Decimal(str(text))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fill(side: str, qty: str | Decimal, price: str | Decimal, **kw: Any) -> Fill:
    """A fill for the default slot; ``trade`` names its venue trade id (unique by default)."""
    trade = kw.pop("trade", None) or f"t{next(_ids)}"
    base: dict[str, Any] = {
        "venue_trade_id": trade,
        "account": kw.pop("account", ACCOUNT),
        "venue": VENUE,
        "symbol": kw.pop("symbol", SYMBOL),
        "side": OrderSide(side),
        "quantity": D(qty),
        "price": D(price),
        "occurred_at": kw.pop("when", T0),
    }
    base.update(kw)
    return Fill(**base)


def exit_fill(side: str, qty: str, price: str, **kw: Any) -> Fill:
    return fill(side, qty, price, reduce_only=True, intent=FillIntent.PROTECTIVE, **kw)


def protection(
    tps: tuple[tuple[str, str], ...] = (("110", "0.5"), ("120", "0.5")),
    sl: str | None = "90",
    trail: tuple[str | None, str, TrailingMode] | None = None,
) -> Protection:
    """TP levels as (price, fraction), SL as a price, trailing as (activation, callback %, mode)."""
    return Protection(
        take_profits=tuple(TakeProfitLevel(price=D(p), fraction=D(f)) for p, f in tps),
        stop_loss=StopLoss(price=D(sl)) if sl is not None else None,
        trailing=Trailing(activation_price=D(trail[0]) if trail[0] else None, callback_rate=D(trail[1]),
                          mode=trail[2]) if trail else None,
    )


def opened(
    side: str = "buy", qty: str = "1", price: str = "100", prot: Protection | None = None, **kw: Any
) -> Position:
    """A position opened by one complete entry fill."""
    defaults = OpenDefaults(protection=prot if prot is not None else protection(), strategy_id="strat-1")
    return apply_fill(None, fill(side, qty, price, **kw), defaults).position


def order(
    kind: ProtectiveKind | str,
    price: str | None,
    qty: str,
    *,
    level: int | None = None,
    status: OrderState = OrderState.OPEN,
    cid: str | None = None,
    callback: str | None = None,
    filled: str = "0",
) -> ProtectiveOrder:
    kind = ProtectiveKind(kind)
    cid = cid or f"c-{kind.value}-{level}-{next(_ids)}"
    return ProtectiveOrder(
        kind=kind,
        client_order_id=cid,
        command_id=f"cmd-{cid}",
        status=status,
        price=D(price) if price is not None else None,
        quantity=D(qty),
        filled_quantity=D(filled),
        level=level,
        callback_rate=D(callback) if callback is not None else None,
    )


def full_protection(pos: Position) -> list[ProtectiveOrder]:
    """The orders that protect the default 1.0 @ 100 long exactly (TPs 110/120 x 0.5, SL 90)."""
    return [
        order("TP", "110", "0.5", level=0),
        order("TP", "120", "0.5", level=1),
        order("SL", "90", str(pos.quantity)),
    ]


LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
