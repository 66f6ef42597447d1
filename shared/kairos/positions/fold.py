"""The positions projection as a pure fold: (position, fill) -> (position, events).

Why a fold: the position is *derived* from ``exec.fill`` (the venue's truth), never edited,
so a replay of the same fills in the same order rebuilds the same positions, the same ids
and the same events. Rules (one-way mode unless the key carries a hedge side):

- same side as the position: increase; average entry is the quantity-weighted mean;
- opposite side: reduce; average entry unchanged; realised PnL = qty * (exit - entry) * sign;
- fees are subtracted from realised PnL when paid (entry fees included);
- a reduce larger than the position flips it in one-way mode (close, then open the other side
  with the remainder); a reduce-only or hedge-mode fill cannot flip and is refused;
- a fill whose venue trade id was already applied is a no-op.

Status changes follow ``TRANSITIONS``, one row per (status, effect); a pair not in the table
is refused before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from kairos.contracts.positions import PositionEvent, PositionEventKind
from kairos.positions.ids import position_id_for, stable_id
from kairos.positions.model import (
    ZERO,
    Fill,
    FillIntent,
    Mode,
    OrderSide,
    Position,
    PositionKey,
    PositionSide,
    PositionStatus,
    Protection,
)

NO_PROTECTION = Protection()
PRECISION = 40  # digits for averages: far beyond any venue's price and size precision


class FoldError(ValueError):
    """A fill that cannot apply to the position as projected: the projection must be re-read
    from the venue (reconciliation), never patched over."""


class Effect(StrEnum):
    OPEN_PARTIAL = "open_partial"  # first fill of an entry order that has more to fill
    OPEN_COMPLETE = "open_complete"
    INCREASE_PARTIAL = "increase_partial"
    INCREASE_COMPLETE = "increase_complete"
    REDUCE = "reduce"
    CLOSE = "close"


S = PositionStatus
TRANSITIONS: dict[tuple[PositionStatus | None, Effect], PositionStatus] = {
    (None, Effect.OPEN_PARTIAL): S.OPENING,
    (None, Effect.OPEN_COMPLETE): S.OPEN,
    (S.OPENING, Effect.INCREASE_PARTIAL): S.OPENING,
    (S.OPENING, Effect.INCREASE_COMPLETE): S.OPEN,
    # A stop can hit while the entry order still rests: the position shrinks before it is complete.
    (S.OPENING, Effect.REDUCE): S.PARTIALLY_CLOSED,
    (S.OPENING, Effect.CLOSE): S.CLOSED,
    (S.OPEN, Effect.INCREASE_PARTIAL): S.OPEN,
    (S.OPEN, Effect.INCREASE_COMPLETE): S.OPEN,
    (S.OPEN, Effect.REDUCE): S.PARTIALLY_CLOSED,
    (S.OPEN, Effect.CLOSE): S.CLOSED,
    # Scaling back into a partly closed position makes it a plain open position of a new size.
    (S.PARTIALLY_CLOSED, Effect.INCREASE_PARTIAL): S.OPEN,
    (S.PARTIALLY_CLOSED, Effect.INCREASE_COMPLETE): S.OPEN,
    (S.PARTIALLY_CLOSED, Effect.REDUCE): S.PARTIALLY_CLOSED,
    (S.PARTIALLY_CLOSED, Effect.CLOSE): S.CLOSED,
    # CLOSED has no row: a fill after the close opens a new position (``apply_fill`` routes it).
}


def next_status(current: PositionStatus | None, effect: Effect) -> PositionStatus:
    """The table lookup; raises FoldError for a pair the table does not allow."""
    try:
        return TRANSITIONS[(current, effect)]
    except KeyError:
        raise FoldError(f"no transition from {current} on {effect}") from None


@dataclass(frozen=True, slots=True)
class OpenDefaults:
    """What a newly opened position gets that fills do not say: from configuration or the entry."""

    strategy_id: str | None = None
    mode: Mode = Mode.LIVE
    managed: bool = True
    protect: bool = True
    protection: Protection = NO_PROTECTION


@dataclass(frozen=True, slots=True)
class FoldResult:
    position: Position  # the position the fill leaves open (or closed), the new one after a flip
    events: tuple[PositionEvent, ...] = ()
    closed: Position | None = None  # the position a flip closed
    duplicate: bool = False


def apply_fill(current: Position | None, fill: Fill, defaults: OpenDefaults = OpenDefaults()) -> FoldResult:
    """Fold one fill into the position of its slot (None or CLOSED: the fill opens a new one).

    Raises FoldError when the fill belongs to another slot, is reduce-only with nothing to
    reduce, or would flip a position where flips are not allowed (reduce-only, hedge mode).
    """
    if current is not None and fill.venue_trade_id in current.applied_trade_ids:
        return FoldResult(position=current, duplicate=True)
    if current is not None and not _same_slot(current.key, fill):
        raise FoldError(f"fill {fill.venue_trade_id} is for {fill.key.text()}, not {current.key.text()}")
    if current is None or current.status is PositionStatus.CLOSED:
        if fill.reduce_only or (fill.intent is not FillIntent.ENTRY and fill.tag is not None):
            raise FoldError(f"fill {fill.venue_trade_id} reduces a position that is not open")
        return _open(fill, fill.quantity, fill.fee, defaults)
    if fill.side.sign == current.side.sign:
        return _increase(current, fill)
    if fill.quantity <= current.quantity:
        return _reduce(current, fill, fill.quantity, fill.fee)
    if fill.reduce_only or current.key.hedge_side is not None:
        raise FoldError(f"fill {fill.venue_trade_id} of {fill.quantity} exceeds the position's {current.quantity}")
    return _flip(current, fill, defaults)


def _same_slot(key: PositionKey, fill: Fill) -> bool:
    return (key.account, key.venue, key.symbol, key.hedge_side) == (
        fill.account, fill.venue, fill.symbol, fill.position_side)


def _open(fill: Fill, quantity: Decimal, fee: Decimal, defaults: OpenDefaults) -> FoldResult:
    side = PositionSide.LONG if fill.side is OrderSide.BUY else PositionSide.SHORT
    if fill.position_side is not None and fill.position_side is not side:
        raise FoldError(f"fill {fill.venue_trade_id}: a {fill.side} cannot open a {fill.position_side} position")
    complete = not fill.order_remaining  # None or 0
    status = next_status(None, Effect.OPEN_COMPLETE if complete else Effect.OPEN_PARTIAL)
    key = fill.key
    position = Position(
        position_id=position_id_for(key.text(), fill.venue_trade_id),
        key=key,
        side=side,
        status=status,
        quantity=quantity,
        peak_quantity=quantity,
        entry_price=fill.price,
        realised_pnl=-fee,
        fees_paid=fee,
        opened_at=fill.occurred_at,
        updated_at=fill.occurred_at,
        strategy_id=fill.strategy_id or defaults.strategy_id,
        mode=defaults.mode,
        managed=defaults.managed,
        protect=defaults.protect,
        protection=defaults.protection,
        applied_trade_ids=frozenset({fill.venue_trade_id}),
        revision=1,
    )
    event = _event(PositionEventKind.OPENED, position, None, quantity, -fee, fill.venue_trade_id, fill.occurred_at)
    return FoldResult(position=position, events=(event,))


def _increase(current: Position, fill: Fill) -> FoldResult:
    complete = not fill.order_remaining
    status = next_status(current.status, Effect.INCREASE_COMPLETE if complete else Effect.INCREASE_PARTIAL)
    quantity = current.quantity + fill.quantity
    with localcontext() as ctx:
        ctx.prec = PRECISION
        entry = (current.quantity * current.entry_price + fill.quantity * fill.price) / quantity
    position = _advance(current, fill, status, quantity, entry, -fill.fee, fill.fee)
    events = [
        _event(PositionEventKind.INCREASED, position, current.status, fill.quantity, -fill.fee,
               fill.venue_trade_id, fill.occurred_at)
    ]
    return FoldResult(position=position, events=_with_status_change(events, current, position, fill))


def _reduce(current: Position, fill: Fill, quantity: Decimal, fee: Decimal) -> FoldResult:
    remaining = current.quantity - quantity
    status = next_status(current.status, Effect.CLOSE if remaining == 0 else Effect.REDUCE)
    gross = quantity * (fill.price - current.entry_price) * current.side.sign
    pnl_delta = gross - fee
    position = _advance(current, fill, status, remaining, current.entry_price, pnl_delta, fee)
    if fill.tag is not None and fill.tag.value == "TP" and fill.tp_level is not None:
        filled = dict(position.tp_filled)
        filled[fill.tp_level] = filled.get(fill.tp_level, ZERO) + quantity
        position = position.model_copy(update={"tp_filled": filled})
    if status is PositionStatus.CLOSED:
        position = position.model_copy(update={"closed_at": fill.occurred_at})
    kind = PositionEventKind.CLOSED if remaining == 0 else PositionEventKind.PARTIALLY_CLOSED
    events = [_event(kind, position, current.status, -quantity, pnl_delta, fill.venue_trade_id, fill.occurred_at)]
    return FoldResult(position=position, events=_with_status_change(events, current, position, fill))


def _flip(current: Position, fill: Fill, defaults: OpenDefaults) -> FoldResult:
    """Close the whole position, open the other side with the rest; the fee is split pro rata."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        close_fee = fill.fee * current.quantity / fill.quantity
    closing = _reduce(current, fill, current.quantity, close_fee)
    inherited = OpenDefaults(
        strategy_id=current.strategy_id,
        mode=current.mode,
        managed=current.managed,
        protect=current.protect,
        protection=defaults.protection if not defaults.protection.empty else current.protection,
    )
    opening = _open(fill, fill.quantity - current.quantity, fill.fee - close_fee, inherited)
    return FoldResult(position=opening.position, events=closing.events + opening.events, closed=closing.position)


def _advance(
    current: Position,
    fill: Fill,
    status: PositionStatus,
    quantity: Decimal,
    entry: Decimal,
    pnl_delta: Decimal,
    fee: Decimal,
) -> Position:
    return current.model_copy(
        update={
            "status": status,
            "quantity": quantity,
            "peak_quantity": max(current.peak_quantity, quantity),
            "entry_price": entry,
            "realised_pnl": current.realised_pnl + pnl_delta,
            "fees_paid": current.fees_paid + fee,
            "updated_at": max(current.updated_at, fill.occurred_at),
            "applied_trade_ids": current.applied_trade_ids | {fill.venue_trade_id},
            "revision": current.revision + 1,
        }
    )


def _with_status_change(
    events: list[PositionEvent], before: Position, after: Position, fill: Fill
) -> tuple[PositionEvent, ...]:
    if before.status is not after.status:
        events.append(
            _event(PositionEventKind.STATUS_CHANGED, after, before.status, ZERO, ZERO,
                   fill.venue_trade_id, fill.occurred_at)
        )
    return tuple(events)


def _event(
    kind: PositionEventKind,
    position: Position,
    previous: PositionStatus | None,
    quantity_delta: Decimal,
    pnl_delta: Decimal,
    trade_id: str | None,
    at: datetime,
) -> PositionEvent:
    return PositionEvent(
        event_id=stable_id(position.position_id, kind.value, trade_id, prefix="pev-"),
        kind=kind,
        position_id=position.position_id,
        key=position.key,
        side=position.side,
        status=position.status,
        previous_status=previous,
        quantity=position.quantity,
        quantity_delta=quantity_delta,
        entry_price=position.entry_price,
        realised_pnl=position.realised_pnl,
        realised_pnl_delta=pnl_delta,
        venue_trade_id=trade_id,
        managed=position.managed,
        occurred_at=at,
    )


def adopt(
    key: PositionKey,
    side: PositionSide,
    quantity: Decimal,
    entry_price: Decimal,
    at: datetime,
    *,
    protect: bool,
    protection: Protection = NO_PROTECTION,
) -> FoldResult:
    """A position found at the venue that no fill of ours explains (opened by hand).

    It becomes an unmanaged position (``managed=False``); ``protect`` comes from the
    configuration. The caller alerts; the opened event carries ``managed=False`` for that.
    """
    if quantity <= 0 or entry_price <= 0:
        raise FoldError(f"cannot adopt {key.text()}: quantity {quantity}, entry {entry_price}")
    position = Position(
        position_id=position_id_for(key.text(), f"adopted@{at.isoformat()}"),
        key=key,
        side=side,
        status=PositionStatus.OPEN,
        quantity=quantity,
        peak_quantity=quantity,
        entry_price=entry_price,
        opened_at=at,
        updated_at=at,
        managed=False,
        protect=protect,
        protection=protection,
        revision=1,
    )
    return FoldResult(position=position, events=(_event(PositionEventKind.OPENED, position, None, quantity, ZERO,
                                                         None, at),))


def fold_all(
    fills: list[Fill], defaults: OpenDefaults = OpenDefaults()
) -> tuple[dict[str, Position], list[PositionEvent]]:
    """Fold fills of any slots in order; returns every position by id (closed ones too) and events.

    A convenience for replays, tests and the benchmark; the projection function folds one fill
    at a time against the slot's current row. A position remembers the trade ids of its own
    life only, so across lifetimes the dedupe is the set kept here, as the ``fills`` table's
    unique venue trade id will be in the integration.
    """
    by_slot: dict[PositionKey, Position] = {}
    every: dict[str, Position] = {}
    events: list[PositionEvent] = []
    seen: set[str] = set()
    for fill in fills:
        if fill.venue_trade_id in seen:
            continue
        seen.add(fill.venue_trade_id)
        result = apply_fill(by_slot.get(fill.key), fill, defaults)
        if result.closed is not None:
            every[result.closed.position_id] = result.closed
        by_slot[fill.key] = result.position
        every[result.position.position_id] = result.position
        events.extend(result.events)
    return every, events
