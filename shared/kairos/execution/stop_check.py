"""Seed 002's check before a stop is placed, made where the venue can be read: the executor.

The seed lost money to stop-losses sent for positions that had just been closed (a TP filled
between the TP step and the SL step): the venue answered -2022 and the retry loops made it
worse. position-sync checks what our records say before it asks for the SL; the executor,
which alone talks to the venue, checks the venue's own position right before sending a
reduce-only stop: still open, on the side the stop closes, and at least the stop's size.
Otherwise the order is refused without being sent, with a reason position-sync reads as a
reduce-only rejection (a re-read of the position, never a retry). When the venue cannot tell
its position, the stop is sent unchecked (the service decides that): the venue itself still
refuses a wrong reduce-only stop, and a missing stop is the worse outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

GUARDED_TYPES = frozenset({"stop_market", "trailing_stop_market"})
REASON = "REDUCE_ONLY_PRECHECK"


def guarded(order_type: str, reduce_only: bool, mode: str) -> bool:
    """Only LIVE reduce-only stops: SHADOW holds no venue position, TPs go first (seed 002)."""
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
