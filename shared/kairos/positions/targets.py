"""The protection a position *should* have right now: TP levels, one stop, a native trail.

Both the diagnostics ("what is missing or wrong") and the plan ("what to do about it") are
differences against these targets, and SHADOW triggers on the same prices, so LIVE, SHADOW
and the checks can never disagree about where a stop is.

Rounding rules, chosen for safety rather than for the last basis point:
- prices go to the venue tick *toward the market*: a trigger is never further from the
  current price than configured (LONG: TP rounds down, SL rounds up; SHORT mirrors);
- quantities go *down* to the step, so reduce-only orders never exceed the position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from kairos.positions import trailing
from kairos.positions.model import ONE, ZERO, Position, PositionSide, StopLoss, TakeProfitLevel, TrailState, VenueRules

HUNDRED = Decimal(100)


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """``price`` on the tick grid, up or down; never below one tick."""
    units = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return max(units, ONE) * tick


def toward_market(price: Decimal, tick: Decimal, *, above: bool) -> Decimal:
    """Round a trigger toward the market: a level above the price rounds down, below rounds up."""
    return round_to_tick(price, tick, up=not above)


def floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    """The largest step multiple not above ``quantity`` (zero allowed)."""
    if quantity <= 0:
        return ZERO
    return (quantity / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _offset(entry: Decimal, side: PositionSide, favourable: bool, spec: TakeProfitLevel | StopLoss) -> Decimal:
    if spec.price is not None:
        return spec.price
    direction = side.sign if favourable else -side.sign
    distance = spec.distance if spec.distance is not None else entry * (spec.distance_pct or ZERO) / HUNDRED
    return entry + direction * distance


@dataclass(frozen=True, slots=True)
class DesiredTp:
    level: int
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class DesiredStop:
    price: Decimal
    quantity: Decimal
    trailing: bool  # True when the emulated trail, not the configured SL, sets the price


@dataclass(frozen=True, slots=True)
class DesiredTrailing:
    activation_price: Decimal | None
    callback_rate: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Targets:
    remaining: Decimal  # the position's quantity on the step grid: what protection must cover
    tps: tuple[DesiredTp, ...] = ()
    stop: DesiredStop | None = None
    trailing: DesiredTrailing | None = None
    trail_state: TrailState | None = None  # emulated trail after the mark; the caller persists it
    skipped_levels: tuple[int, ...] = ()  # TP levels too small for the venue's minimum
    done_levels: tuple[int, ...] = ()  # TP levels already filled

    @property
    def tp_quantity(self) -> Decimal:
        return sum((t.quantity for t in self.tps), ZERO)


def native_trailing(position: Position, rules: VenueRules) -> bool:
    """Native only where configured, supported, and the callback is within the venue's range."""
    spec = position.protection.trailing
    return (
        spec is not None
        and spec.mode.value == "NATIVE"
        and rules.native_trailing
        and rules.callback_min <= spec.callback_rate <= rules.callback_max
    )


def compute(position: Position, rules: VenueRules, mark: Decimal | None = None) -> Targets:
    """Targets for ``position`` at market price ``mark`` (None: no price, the trail stays put)."""
    remaining = floor_to_step(position.quantity, rules.step_size)
    if not position.is_open or remaining <= 0:
        return Targets(remaining=ZERO)
    tps, skipped, done = _take_profits(position, rules, remaining)
    native = native_trailing(position, rules)
    trail_state, trail_stop = _emulated_trail(position, rules, mark) if not native else (None, None)
    stop = _stop(position, rules, remaining, trail_stop)
    desired_trailing = _native_trailing(position, rules, remaining, mark) if native else None
    return Targets(
        remaining=remaining,
        tps=tps,
        stop=stop,
        trailing=desired_trailing,
        trail_state=trail_state,
        skipped_levels=skipped,
        done_levels=done,
    )


def _take_profits(
    position: Position, rules: VenueRules, remaining: Decimal
) -> tuple[tuple[DesiredTp, ...], tuple[int, ...], tuple[int, ...]]:
    levels = position.protection.take_profits
    nominal = [lv.quantity if lv.quantity is not None else (lv.fraction or ZERO) * position.peak_quantity
               for lv in levels]
    full_exit = sum(nominal, ZERO) >= position.peak_quantity
    wanted = [(i, q - position.tp_filled.get(i, ZERO)) for i, q in enumerate(nominal)]
    done = tuple(i for i, q in wanted if q <= 0)
    live = [(i, q) for i, q in wanted if q > 0]
    minimum = max(rules.min_quantity, rules.step_size)
    out: list[DesiredTp] = []
    skipped: list[int] = []
    left = remaining
    for n, (i, q) in enumerate(live):
        size = left if full_exit and n == len(live) - 1 else min(q, left)
        size = floor_to_step(size, rules.step_size)
        if size < minimum:
            skipped.append(i)
            continue
        raw = _offset(position.entry_price, position.side, True, levels[i])
        price = toward_market(raw, rules.tick_size, above=position.side is PositionSide.LONG)
        out.append(DesiredTp(level=i, price=price, quantity=size))
        left -= size
    return tuple(out), tuple(skipped), done


def _emulated_trail(
    position: Position, rules: VenueRules, mark: Decimal | None
) -> tuple[TrailState | None, Decimal | None]:
    spec = position.protection.trailing
    if spec is None:
        return None, None
    state = position.trail or trailing.INACTIVE
    if mark is not None:
        state = trailing.advance(state, position.side, mark, spec.activation_price)
    raw = trailing.stop_price(state, position.side, spec.callback_rate)
    if raw is None:
        return state, None
    long = position.side is PositionSide.LONG
    return state, toward_market(raw, rules.tick_size, above=not long)


def _stop(position: Position, rules: VenueRules, remaining: Decimal, trail_stop: Decimal | None) -> DesiredStop | None:
    spec = position.protection.stop_loss
    configured = None
    long = position.side is PositionSide.LONG
    if spec is not None:
        raw = _offset(position.entry_price, position.side, False, spec)
        configured = toward_market(raw, rules.tick_size, above=not long)
    price = trailing.tighter(position.side, configured, trail_stop)
    if price is None:
        return None
    return DesiredStop(price=price, quantity=remaining, trailing=price != configured)


def _native_trailing(
    position: Position, rules: VenueRules, remaining: Decimal, mark: Decimal | None
) -> DesiredTrailing:
    spec = position.protection.trailing
    assert spec is not None
    activation = spec.activation_price
    if activation is not None:
        long = position.side is PositionSide.LONG
        activation = toward_market(activation, rules.tick_size, above=long)
        # Already beyond it: the venue would refuse (-2021); activating at once is what was meant.
        if mark is not None and (mark >= activation if long else mark <= activation):
            activation = None
    return DesiredTrailing(activation_price=activation, callback_rate=spec.callback_rate, quantity=remaining)
