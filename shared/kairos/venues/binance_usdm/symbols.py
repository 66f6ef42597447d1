"""Binance USD-M's symbol names and ccxt's unified ones, both ways.

The venue names a perpetual ``BTCUSDT``; Kairos (like ccxt) names it ``BTC/USDT:USDT``
everywhere past the venue's edge: in events, in Postgres, in strategies. USDⓈ-M linear
perpetuals settle in their quote asset, which is why the settle part repeats the quote.
"""

from __future__ import annotations

from kairos.errors import Rejected

QUOTES = ("USDT", "USDC")


def unified_symbol(native: str) -> str:
    """``BTCUSDT`` -> ``BTC/USDT:USDT``; Rejected for a name that is not a USDT- or
    USDC-margined perpetual (the venue's raw rows are input like any other)."""
    for quote in QUOTES:
        if native.endswith(quote) and len(native) > len(quote):
            return f"{native[: -len(quote)]}/{quote}:{quote}"
    raise Rejected(f"symbol {native!r} is not a USDT- or USDC-margined perpetual")


def native_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT``; a native name passes through unchanged."""
    return symbol.split(":")[0].replace("/", "")
