"""The check before a stop is placed, made where the venue can be read: the executor.

A stop-loss sent for a position that has just been closed (a TP filled between the TP step
and the SL step) is rejected by the venue (-2022), and retrying it only makes that worse.
position-sync checks what our records say before it asks for the SL; the executor,
which alone talks to the venue, checks the venue's own position right before sending a
reduce-only stop: still open, on the side the stop closes, and at least the stop's size.
Otherwise the order is refused without being sent, with a reason position-sync reads as a
reduce-only rejection (a re-read of the position, never a retry). When the venue cannot tell
its position (asked twice), the stop is sent unchecked: the venue itself still refuses a
wrong reduce-only stop, and a missing stop is the worse outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from kairos.venues.port import VenueAdapter, VenueError

if TYPE_CHECKING:
    from kairos.execution.repository import OrderRow

log = logging.getLogger(__name__)

GUARDED_TYPES = frozenset({"stop_market", "trailing_stop_market"})
REASON = "REDUCE_ONLY_PRECHECK"


def guarded(order_type: str, reduce_only: bool, mode: str) -> bool:
    """Only LIVE reduce-only stops: SHADOW holds no venue position, TPs go first."""
    return mode == "live" and reduce_only and order_type in GUARDED_TYPES


def refusal(side: str, quantity: Decimal, venue_amounts: Iterable[Decimal], symbol: str) -> str | None:
    """Why a reduce-only stop of ``quantity`` on ``side`` must not be sent, given the signed
    one-way position amounts the venue holds on ``symbol``; None when it may be sent."""
    amount = sum(venue_amounts, Decimal(0))
    closable = amount if side == "sell" else -amount  # a sell closes a long, a buy a short
    if closable <= 0:
        return (f"{REASON}: no position this stop closes on {symbol} at the venue (amount {amount}); "
                "not sent, position-sync re-reads the position")
    if closable < quantity:
        return (f"{REASON}: the venue position on {symbol} ({amount}) is smaller than the stop ({quantity}); "
                "not sent, position-sync re-reads the position")
    return None


def venue_refusal(order: OrderRow, adapter: VenueAdapter) -> str | None:
    """The executor's call right before sending ``order``: why it must not go out, or None."""
    if not guarded(order.order_type, order.reduce_only, adapter.mode):
        return None
    for attempt in (1, 2):
        try:
            held = adapter.positions()
            break
        except VenueError as exc:
            log.warning("venue position not read before the stop",
                        extra={"client_order_id": order.client_order_id, "attempt": attempt, "reason": str(exc)})
    else:
        log.warning("stop sent unchecked: the venue did not tell its position",
                    extra={"client_order_id": order.client_order_id})
        return None
    why = refusal(order.side, order.quantity, [p.amount for p in held if p.symbol == order.symbol], order.symbol)
    if why is not None:
        log.warning("stop not sent: the venue position does not hold it",
                    extra={"client_order_id": order.client_order_id, "reason": why})
    return why
