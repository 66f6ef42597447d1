"""The arithmetic of a net holding (one account, venue and symbol, one-way mode), in exact decimals.

A fill of signed quantity ``q`` (buy > 0, sell < 0) at price ``p``:

- on a flat holding or in the holding's direction it grows the holding at the weighted
  average price;
- against it, it closes ``min(|q|, |held|)`` at ``p``: realized = closed x (p - avg) for a
  long, closed x (avg - p) for a short; what is left of ``q`` opens the other side at ``p``
  (a flip). The average price of what stays open does not change.

Fees are kept apart from the gross realized PnL (net = gross - fees + funding), so every
figure can be checked by hand. Unrealized PnL = held x (mark - avg).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Holding:
    quantity: Decimal = ZERO  # signed
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # gross
    fees: Decimal = ZERO
    funding: Decimal = ZERO

    @property
    def net_realized(self) -> Decimal:
        return self.realized_pnl - self.fees + self.funding

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.quantity * (mark - self.avg_price)


def signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == "buy" else -quantity


def apply_fill(
    h: Holding, side: str, quantity: Decimal, price: Decimal, fee: Decimal = ZERO
) -> tuple[Holding, Decimal]:
    """The holding after the fill, and the gross PnL the fill realized."""
    q = signed(side, quantity)
    held = h.quantity
    if held == 0 or (held > 0) == (q > 0):
        total = abs(held) + abs(q)
        avg = (abs(held) * h.avg_price + abs(q) * price) / total
        return replace(h, quantity=held + q, avg_price=avg, fees=h.fees + fee), ZERO
    closed = min(abs(q), abs(held))
    direction = 1 if held > 0 else -1
    realized = closed * (price - h.avg_price) * direction
    after = held + q
    if after == 0:
        avg = ZERO
    elif (after > 0) != (held > 0):  # flipped: the rest opened the other side at this price
        avg = price
    else:
        avg = h.avg_price
    return replace(
        h, quantity=after, avg_price=avg, realized_pnl=h.realized_pnl + realized, fees=h.fees + fee
    ), realized


def apply_funding(h: Holding, amount: Decimal) -> Holding:
    """A funding payment: ``amount`` > 0 received, < 0 paid."""
    return replace(h, funding=h.funding + amount)


def settle_asset(symbol: str) -> str:
    """The asset PnL settles in: ``BTC/USDT:USDT`` -> USDT (the quote when there is no settle part)."""
    if ":" in symbol:
        return symbol.rsplit(":", 1)[1]
    return symbol.split("/", 1)[1] if "/" in symbol else "USDT"
