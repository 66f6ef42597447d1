"""The static rules of a linear perpetual contract and the Decimal rounding they imply.

Venue-neutral: a venue package lists its contracts' values (``binance_usdm.markets``).
SHADOW fills against them and the simulator serves them, so both agree on ticks, steps,
fees and the synthetic depth (``kairos.venues.book``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Bracket:
    """One notional tier: positions below ``notional_cap`` may use up to ``max_leverage``."""

    bracket: int
    max_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


@dataclass(frozen=True)
class MarketSpec:
    """Static rules of one perpetual contract (all money and sizes are Decimal)."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    initial_price: Decimal
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    default_leverage: int = 20
    brackets: tuple[Bracket, ...] = field(default_factory=tuple)
    # Synthetic book: best bid/ask are ``spread_ticks`` apart, each of ``depth_levels``
    # levels per side holds ``level_qty`` and sits ``level_step_ticks`` further out.
    spread_ticks: int = 1
    depth_levels: int = 10
    level_qty: Decimal = Decimal("5")
    level_step_ticks: int = 1

    @property
    def price_precision(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_precision(self) -> int:
        return max(0, -self.step_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def max_leverage(self) -> int:
        return max(b.max_leverage for b in self.brackets) if self.brackets else 125

    def round_price(self, price: Decimal) -> Decimal:
        """Nearest tick (half up): what the venue would display for a computed price."""
        ticks = (price / self.tick_size).to_integral_value(rounding=ROUND_HALF_UP)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def floor_price(self, price: Decimal) -> Decimal:
        ticks = (price / self.tick_size).to_integral_value(rounding=ROUND_DOWN)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def on_tick(self, price: Decimal) -> bool:
        return (price / self.tick_size) == (price / self.tick_size).to_integral_value()

    def on_step(self, qty: Decimal) -> bool:
        return (qty / self.step_size) == (qty / self.step_size).to_integral_value()

    def fmt_price(self, value: Decimal) -> str:
        return f"{value.quantize(self.tick_size):f}"

    def fmt_qty(self, value: Decimal) -> str:
        return f"{value.quantize(self.step_size):f}"

    def bracket_for(self, notional: Decimal) -> Bracket:
        """The tier a position of ``notional`` falls in (the last one when beyond all caps)."""
        for b in self.brackets:
            if abs(notional) < b.notional_cap:
                return b
        return self.brackets[-1]


def markets_by_symbol(markets: tuple[MarketSpec, ...]) -> dict[str, MarketSpec]:
    """The specs keyed by the venue's native symbol (``BTCUSDT``)."""
    return {m.symbol: m for m in markets}
