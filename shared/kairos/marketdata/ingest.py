"""What the normalize functions do with a raw event: validate, store, say what changed.

``store_kline``: a kline becomes a stored candle and one ``norm.candle`` — or nothing when
the same values are already stored (a redelivery, a replay, the cron asking twice), or the
next revision when the venue changed them. Bad data raises ``Rejected`` before anything
is written. ``store_ticker``: a ticker becomes one ``norm.ticker`` and moves the symbol's
mark price forward (never back in time: an older observation leaves a newer one alone).
"""

from __future__ import annotations

from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.market_data import Candle, RawBinanceUsdmKline, RawBinanceUsdmTicker, Ticker
from kairos.marketdata import store
from kairos.marketdata.normalize import candle_of, ticker_of
from kairos.portfolio import marks


def store_kline(conn: psycopg.Connection, event: Envelope[RawBinanceUsdmKline], source: str) -> list[Envelope[Any]]:
    candle = candle_of(event.data)
    stored = store.store_candle(conn, candle, origin="venue")
    if stored.revision is None:
        return []
    final: Candle = candle.model_copy(update={"revision": stored.revision})
    key = f"{final.venue}|{final.symbol}|{final.timeframe}"
    return [derive_event(event, final, source=source, partition_key=key, observed_at=final.close_time)]


def store_ticker(conn: psycopg.Connection, event: Envelope[RawBinanceUsdmTicker], source: str) -> list[Envelope[Any]]:
    ticker: Ticker = ticker_of(event.data)
    marks.record(conn, ticker.venue, {ticker.symbol: ticker.mark or ticker.price}, ticker.exchange_time)
    key = f"{ticker.venue}|{ticker.symbol}"
    return [derive_event(event, ticker, source=source, partition_key=key, observed_at=ticker.exchange_time)]
