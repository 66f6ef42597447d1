"""normalize-candles: ``raw.binance_usdm.ohlcv`` -> the ``candles`` table and ``norm.candle``.

A bad kline raises Rejected: answered 422 with the reason and dead-lettered; the series is
left as it was. The same kline again stores and emits nothing; changed values are the next
revision (``kairos.marketdata.ingest``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.market_data import RawBinanceUsdmKline
from kairos.marketdata.ingest import store_kline
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[RawBinanceUsdmKline], ctx: Context) -> list[Envelope[Any]]:
    return store_kline(ctx.conn, event, ctx.source)


def new() -> KairosFunction:
    return KairosFunction("normalize-candles", handle)
