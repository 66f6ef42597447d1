"""Raw Binance USD-M klines and tickers -> ``norm.candle`` / ``norm.ticker`` (pure).

Bad data never becomes a candle: every way a kline can be wrong raises
:class:`~kairos.errors.Rejected` naming what is wrong, so the event is dead-lettered with
its reason and the series is left as it was. Times are the exchange's (UTC), never ours.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from kairos.contracts.market_data import Candle, RawBinanceUsdmKline, RawBinanceUsdmTicker, Ticker
from kairos.errors import Rejected
from kairos.marketdata import timeframes
from kairos.marketdata.timeframes import from_ms
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.symbols import unified_symbol


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, bool | float) or value is None:
        raise Rejected(f"{what} must be a decimal string, got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise Rejected(f"{what} is not a number: {value!r}") from None
    if not out.is_finite():
        raise Rejected(f"{what} is not finite: {value!r}")
    return out


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(f"{what} must be an integer of milliseconds, got {value!r}")
    return value


def problem(
    open_ms: int,
    close_ms: int,
    o: Decimal,
    h: Decimal,
    lo: Decimal,
    c: Decimal,
    v: Decimal,
    timeframe: str,
    now_ms: int,
) -> str | None:
    """Why these values cannot be a closed candle of ``timeframe`` at ``now_ms``, or None.

    The one statement of the rules, shared by normalize, backfill and import.
    """
    if not timeframes.aligned(open_ms, timeframe):
        return f"open time {open_ms} is not aligned to {timeframe}"
    expected_close = timeframes.next_open(open_ms, timeframe) - 1
    if close_ms != expected_close:
        return f"close time {close_ms} is not the end of the bucket ({expected_close})"
    if close_ms >= now_ms:
        return f"not closed yet (closes {close_ms}, venue time {now_ms})"
    if min(o, h, lo, c) <= 0:
        return f"prices must be > 0 (o={o} h={h} l={lo} c={c})"
    if h < lo:
        return f"high {h} is below low {lo}"
    if not (lo <= o <= h and lo <= c <= h):
        return f"open {o} or close {c} outside [low {lo}, high {h}]"
    if v < 0:
        return f"negative volume {v}"
    return None


def candle_of(raw: RawBinanceUsdmKline, revision: int = 1) -> Candle:
    """The candle of one raw kline, or Rejected with the reason."""
    k = raw.kline
    if len(k) < 7:
        raise Rejected(f"kline has {len(k)} fields, expected at least 7: {k!r}")
    open_ms, close_ms = _int(k[0], "open time"), _int(k[6], "close time")
    o, h, lo, c, v = (_dec(x, n) for x, n in zip(k[1:6], ("open", "high", "low", "close", "volume"), strict=True))
    why = problem(open_ms, close_ms, o, h, lo, c, v, raw.interval, raw.venue_time)
    if why is not None:
        raise Rejected(f"{raw.symbol} {raw.interval} at {from_ms(open_ms).isoformat()}: {why}")
    quote_volume = _dec(k[7], "quote volume") if len(k) > 7 and k[7] is not None else None
    trades = k[8] if len(k) > 8 and isinstance(k[8], int) and not isinstance(k[8], bool) else None
    return Candle(
        venue=VENUE,
        symbol=unified_symbol(raw.symbol),
        timeframe=raw.interval,
        open_time=from_ms(open_ms),
        close_time=from_ms(close_ms),
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        quote_volume=quote_volume,
        trades=trades,
        revision=revision,
    )


def ticker_of(raw: RawBinanceUsdmTicker) -> Ticker:
    """The canonical ticker of one symbol's raw rows; Rejected when the last price is unusable."""
    t = raw.ticker
    price = _dec(t.get("lastPrice"), "lastPrice")
    if price <= 0:
        raise Rejected(f"{raw.symbol}: last price {price} is not > 0")
    times = [_int(t.get("closeTime"), "closeTime")]
    book, premium = raw.book or {}, raw.premium or {}
    bid = _dec(book["bidPrice"], "bidPrice") if book.get("bidPrice") is not None else None
    ask = _dec(book["askPrice"], "askPrice") if book.get("askPrice") is not None else None
    mark = _dec(premium["markPrice"], "markPrice") if premium.get("markPrice") is not None else None
    for row, key in ((book, "time"), (premium, "time")):
        if row.get(key) is not None:
            times.append(_int(row[key], key))
    volume = _dec(t["volume"], "volume") if t.get("volume") is not None else None
    return Ticker(
        venue=VENUE,
        symbol=unified_symbol(raw.symbol),
        price=price,
        mark=mark if mark is not None and mark > 0 else None,
        bid=bid if bid is not None and bid > 0 else None,
        ask=ask if ask is not None and ask > 0 else None,
        volume=volume,
        exchange_time=from_ms(max(times)),
    )
