"""SHADOW protection: the same targets as LIVE, triggered against a price path, filled by a model.

Why the same targets: a SHADOW position must end exactly where a LIVE one would on the same
path, up to the slippage model. So triggers use ``targets.compute`` (same rounding, same TP
allocation, same emulated trail) and the venue's trailing rule, and every simulated fill goes
through ``fold.apply_fill`` like a venue fill (the adapter also records it as ``exec.fill``).

Trigger rules, as the venue applies them: a LONG's stop fires when price <= stop, its TP when
price >= TP (SHORT mirrors). Within one price, the stop is checked first (the conservative
reading), then TP levels nearest first. A trigger fills at the observed price moved against
the position by the slippage, on the tick grid, with ``fee_rate`` of the notional as fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kairos.contracts.positions import PositionEvent
from kairos.positions import trailing
from kairos.positions.fold import apply_fill
from kairos.positions.ids import stable_id
from kairos.positions.model import (
    ONE,
    ZERO,
    Fill,
    FillIntent,
    OrderSide,
    Position,
    PositionSide,
    ProtectiveKind,
    VenueRules,
)
from kairos.positions.targets import compute, native_trailing, round_to_tick

TEN_THOUSAND = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FillModel:
    """Slippage in basis points against the position, fee as a fraction of the notional."""

    slippage_bps: Decimal = ZERO
    fee_rate: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PricePoint:
    at: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: ProtectiveKind
    level: int | None
    at: datetime
    observed: Decimal
    fill_price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class ShadowResult:
    position: Position
    fills: tuple[Fill, ...]
    events: tuple[PositionEvent, ...]
    triggers: tuple[Trigger, ...]


def fill_price(side: OrderSide, observed: Decimal, model: FillModel, tick: Decimal) -> Decimal:
    """Observed price moved against the order by the slippage, rounded against it to the tick."""
    slip = model.slippage_bps / TEN_THOUSAND
    if side is OrderSide.SELL:
        return round_to_tick(observed * (ONE - slip), tick, up=False)
    return round_to_tick(observed * (ONE + slip), tick, up=True)


def simulate(position: Position, path: Iterable[PricePoint], rules: VenueRules, model: FillModel) -> ShadowResult:
    """Walk ``path`` from ``position``; stops at the end of the path or when the position closes."""
    fills: list[Fill] = []
    events: list[PositionEvent] = []
    triggers: list[Trigger] = []
    native_state = position.trail or trailing.INACTIVE
    for point in path:
        if not position.is_open:
            break
        targets = compute(position, rules, point.price)
        position = position.model_copy(update={"trail": targets.trail_state})
        hits: list[tuple[ProtectiveKind, int | None, Decimal]] = []
        spec = position.protection.trailing
        if spec is not None and native_trailing(position, rules):
            native_state, fired = trailing.step(native_state, position.side, point.price, spec.activation_price,
                                                spec.callback_rate)
            position = position.model_copy(update={"trail": native_state})
            if fired:
                hits.append((ProtectiveKind.TRAILING, None, targets.remaining))
        stop = targets.stop
        if not hits and stop is not None and _crossed(position.side, point.price, stop.price, stop_side=True):
            hits.append((ProtectiveKind.SL, None, stop.quantity))
        if not hits:
            hits.extend((ProtectiveKind.TP, tp.level, tp.quantity) for tp in targets.tps
                        if _crossed(position.side, point.price, tp.price, stop_side=False))
        for kind, level, qty in hits:
            if not position.is_open:
                break
            qty = min(qty, position.quantity)
            fill = _fill(position, kind, level, qty, point, model, rules)
            result = apply_fill(position, fill)
            position = result.position
            fills.append(fill)
            events.extend(result.events)
            triggers.append(Trigger(kind, level, point.at, point.price, fill.price, qty))
    return ShadowResult(position=position, fills=tuple(fills), events=tuple(events), triggers=tuple(triggers))


def _crossed(side: PositionSide, price: Decimal, trigger: Decimal, *, stop_side: bool) -> bool:
    long = side is PositionSide.LONG
    if stop_side:
        return price <= trigger if long else price >= trigger
    return price >= trigger if long else price <= trigger


def _fill(
    position: Position,
    kind: ProtectiveKind,
    level: int | None,
    qty: Decimal,
    point: PricePoint,
    model: FillModel,
    rules: VenueRules,
) -> Fill:
    side = position.side.exit_side
    price = fill_price(side, point.price, model, rules.tick_size)
    key = position.key
    return Fill(
        venue_trade_id=stable_id("shadow", position.position_id, kind.value, level, position.revision,
                                 prefix="shadow-"),
        client_order_id=stable_id("shadow-order", position.position_id, kind.value, level, prefix="sh-"),
        account=key.account,
        venue=key.venue,
        symbol=key.symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=qty * price * model.fee_rate,
        reduce_only=True,
        position_side=key.hedge_side,
        occurred_at=point.at,
        intent=FillIntent.PROTECTIVE,
        tag=kind,
        tp_level=level,
        strategy_id=position.strategy_id,
    )

