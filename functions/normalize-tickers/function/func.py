"""normalize-tickers: ``raw.binance_usdm.ticker`` -> ``norm.ticker`` and a fresher ``mark_prices`` row.

A mark only moves forward in exchange time (``kairos.marketdata.ingest``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import RawBinanceUsdmTicker
from kairos.marketdata.ingest import store_ticker
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[RawBinanceUsdmTicker], ctx: Context) -> list[Envelope[Any]]:
    return store_ticker(ctx.conn, event, ctx.source)


def new() -> KairosFunction:
    return KairosFunction("normalize-tickers", handle)
