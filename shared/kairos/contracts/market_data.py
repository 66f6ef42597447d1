"""Market data events: the venue's klines and tickers as received, and their canonical forms.

Raw events keep the venue's payload untouched (replay and debugging need venue truth, not
our reading of it); normalize turns them into ``norm.candle`` and ``norm.ticker``, where
every time is the exchange's own (UTC) and every price a decimal string.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime

Timeframe = Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]


@register("kairos.raw.binance_usdm.ohlcv", 1)
class RawBinanceUsdmKline(Contract):
    """One kline exactly as ``GET /fapi/v1/klines`` returned it.

    ``kline`` is Binance's array ``[open time, open, high, low, close, volume, close time,
    quote volume, trades, taker base volume, taker quote volume, ignore]``. ``venue_time``
    is the venue's server time read in the same poll: whether the kline had closed is
    decided on the exchange's clock, never ours. ``fetched_at`` is when we received it.
    """

    symbol: str = Field(description="the venue's symbol, e.g. BTCUSDT")
    interval: Timeframe
    kline: list[Any]
    venue_time: int = Field(description="the venue's server time (ms) when the kline was fetched")
    fetched_at: UtcDatetime


@register("kairos.raw.binance_usdm.ticker", 1)
class RawBinanceUsdmTicker(Contract):
    """One symbol's rows of ``ticker/24hr``, ``ticker/bookTicker`` and ``premiumIndex``, as received."""

    symbol: str = Field(description="the venue's symbol, e.g. BTCUSDT")
    ticker: dict[str, Any]
    book: dict[str, Any] | None = None
    premium: dict[str, Any] | None = None
    fetched_at: UtcDatetime


@register("kairos.norm.candle", 1)
class Candle(Contract):
    """One closed candle of a (venue, symbol, timeframe); a later correction is a higher revision."""

    venue: str
    symbol: str = Field(description="ccxt's unified symbol, e.g. BTC/USDT:USDT")
    timeframe: Timeframe
    open_time: UtcDatetime
    close_time: UtcDatetime
    open: PositiveAmount
    high: PositiveAmount
    low: PositiveAmount
    close: PositiveAmount
    volume: Amount
    quote_volume: Amount | None = None
    trades: int | None = None
    revision: int = Field(ge=1, description="1 for the first version stored; +1 per correction")

    RULES = (
        "open and close must lie within [low, high]",
        "volume must be >= 0",
        "close_time must be after open_time",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Candle:
        if not (self.low <= min(self.open, self.close) and self.high >= max(self.open, self.close)):
            raise ValueError("open and close must lie within [low, high]")
        if self.volume < 0:
            raise ValueError("volume must be >= 0")
        if self.close_time <= self.open_time:
            raise ValueError("close_time must be after open_time")
        return self


@register("kairos.norm.ticker", 1)
class Ticker(Contract):
    """Last, mark, best bid/ask and 24 h volume of one symbol at the exchange's time."""

    venue: str
    symbol: str = Field(description="ccxt's unified symbol, e.g. BTC/USDT:USDT")
    price: PositiveAmount = Field(description="last traded price")
    mark: PositiveAmount | None = None
    bid: PositiveAmount | None = None
    ask: PositiveAmount | None = None
    volume: Amount | None = Field(default=None, description="base volume of the last 24 h")
    exchange_time: UtcDatetime
