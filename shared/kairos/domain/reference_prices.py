"""Reference USD prices for the paper venue and the demo reactor (deterministic).

The first loop has no market-data feed yet; these fixed marks make its decisions and
paper fills reproducible. Real venues get prices from the venue (ccxt) instead.
"""

from __future__ import annotations

from decimal import Decimal

USD_MARKS: dict[str, Decimal] = {
    "USDC": Decimal("1"),
    "USDT": Decimal("1"),
    "NEAR": Decimal("3.2"),
    "ETH": Decimal("3100"),
    "BTC": Decimal("97000"),
    "SOL": Decimal("180"),
}


def pair_price(pair: str) -> Decimal | None:
    """Price of BASE in QUOTE units, or None when either side has no mark."""
    base, _, quote = pair.partition("/")
    b, q = USD_MARKS.get(base), USD_MARKS.get(quote)
    if b is None or q is None:
        return None
    return b / q
