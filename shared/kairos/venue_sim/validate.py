"""Request checks shared by regular and conditional orders, with Binance's error codes."""

from __future__ import annotations

from decimal import Decimal

from kairos.venue_sim.model import VenueError
from kairos.venues.markets import MarketSpec


def min_notional_error(spec: MarketSpec) -> VenueError:
    return VenueError(
        -4164, f"Order's notional must be no smaller than {spec.min_notional:f} (unless you choose reduce only)."
    )


def check_qty(spec: MarketSpec, qty: Decimal | None) -> Decimal:
    if qty is None:
        raise VenueError(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    if qty <= 0:
        raise VenueError(-4003, "Quantity less than or equal to zero.")
    if not spec.on_step(qty):
        raise VenueError(-1111, "Precision is over the maximum defined for this asset.")
    if qty < spec.min_qty:
        raise VenueError(-4004, "Quantity less than min quantity.")
    if qty > spec.max_qty:
        raise VenueError(-4005, "Quantity greater than max quantity.")
    return qty


def check_price(spec: MarketSpec, price: Decimal | None, name: str) -> Decimal:
    if price is None:
        raise VenueError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    if price <= 0:
        raise VenueError(-4001, "Price less than 0.")
    if not spec.on_tick(price):
        raise VenueError(-4014, "Price not increased by tick size.")
    return price
