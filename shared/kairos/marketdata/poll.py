"""Ask Binance USD-M for closed klines through ccxt, with backoff; report what it cannot give.

One poll reads the venue's market time once (closed = close time before it: the exchange's
clock decides, never ours), then, concurrently per subscription, pages ``/fapi/v1/klines``
from the cursor (the candle after the newest stored one) and through any range asked again.
The klines come back verbatim (ccxt's implicit API method, not ``fetch_ohlcv``, whose floats
would lose the venue's decimals). Timeouts, 429/418, 5xx and maintenance are retried with
exponential backoff; a subscription still failing is reported, and its cursor has not
moved, so the next tick asks again from the same candle: a missed minute is filled then.
A range the venue answered without some candle is a venue gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ccxt.base import errors as cx

from kairos.marketdata import timeframes

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE = 1500  # Binance's largest klines page
RETRYABLE = (cx.RequestTimeout, cx.NetworkError, cx.DDoSProtection, cx.ExchangeNotAvailable, cx.OnMaintenance)


@dataclass(frozen=True)
class Want:
    """Klines of one (symbol, timeframe) from ``start`` (ms); ``until`` bounds a re-asked range."""

    symbol: str  # the venue's symbol, e.g. BTCUSDT
    timeframe: str
    start: int
    until: int | None = None
    first_fetch: bool = False


@dataclass
class Got:
    want: Want
    klines: list[list[Any]] = field(default_factory=list)
    holes: list[tuple[int, int]] = field(default_factory=list)  # [start, end) open times the venue lacks
    error: str | None = None


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    first_delay_s: float = 0.25
    max_delay_s: float = 4.0

    def pause_s(self, attempt: int, exc: Exception) -> float:
        """How long to wait after failed ``attempt`` (from 1): doubling from ``first_delay_s``,
        four times that when the venue asked us to slow down (429/418), never over ``max_delay_s``."""
        delay = self.first_delay_s * 2 ** (attempt - 1)
        return min(delay * (4 if isinstance(exc, cx.DDoSProtection) else 1), self.max_delay_s)


def _pause_after(exc: Exception, attempt: int, what: str, backoff: Backoff) -> float:
    wait = backoff.pause_s(attempt, exc)
    log.warning(
        "venue call failed; backing off",
        extra={"what": what, "attempt": attempt, "in_s": round(wait, 2), "reason": type(exc).__name__},
    )
    return wait


async def with_backoff(call: Callable[[], Awaitable[T]], what: str, backoff: Backoff) -> T:
    """``call()``, retried on the venue's transient failures with exponential backoff; the
    last attempt's error is raised."""
    for attempt in range(1, backoff.attempts):
        try:
            return await call()
        except RETRYABLE as exc:
            await asyncio.sleep(_pause_after(exc, attempt, what, backoff))
    return await call()


def call_with_backoff(call: Callable[[], T], what: str, backoff: Backoff) -> T:
    """The blocking twin of :func:`with_backoff` (the command-line tools use a sync client)."""
    for attempt in range(1, backoff.attempts):
        try:
            return call()
        except RETRYABLE as exc:
            time.sleep(_pause_after(exc, attempt, what, backoff))
    return call()


def market_time(answer: Sequence[dict[str, Any]] | dict[str, Any]) -> int:
    """The newest ``time`` of premium index rows (one symbol's object, or all symbols' list)."""
    rows = [answer] if isinstance(answer, dict) else answer
    times = [int(r["time"]) for r in rows if r.get("time") is not None]
    if not times:
        raise cx.ExchangeError("premiumIndex carried no time")
    return max(times)


async def venue_time(client: Any, backoff: Backoff) -> int:
    """The venue's market time: the newest ``time`` of its premium index rows (one request).

    Market data's own clock, not ``/time``: a kline is closed when the market has moved
    past its close time, and this is the clock the venue stamps its market data with.
    """
    return market_time(await with_backoff(lambda: client.fapiPublicGetPremiumIndex(), "premium index", backoff))


async def fetch_want(client: Any, want: Want, venue_time: int, backoff: Backoff, max_pages: int) -> Got:
    """Page the closed klines of ``want``; record holes inside what the venue answered."""
    got = Got(want)
    start = want.start
    expected = start
    for _ in range(max_pages):
        params = {"symbol": want.symbol, "interval": want.timeframe, "startTime": start, "limit": PAGE}
        if want.until is not None:
            params["endTime"] = want.until - 1
        page = await with_backoff(lambda p=params: client.fapiPublicGetKlines(p), f"klines {want.symbol}", backoff)  # type: ignore[misc]
        closed = [k for k in page if int(k[6]) < venue_time]
        for k in closed:
            open_ms = int(k[0])
            if open_ms > expected and not (want.first_fetch and not got.klines and not got.holes):
                got.holes.append((expected, open_ms))
            expected = max(expected, timeframes.next_open(open_ms, want.timeframe))
        got.klines.extend(closed)
        if len(page) < PAGE or len(closed) < len(page):
            break
        start = timeframes.next_open(int(page[-1][0]), want.timeframe)
    if want.until is not None and expected < want.until:
        got.holes.append((expected, want.until))
    return got


async def poll(
    client: Any, wants: Sequence[Want], *, backoff: Backoff = Backoff(), concurrency: int = 16, max_pages: int = 4
) -> tuple[int | None, list[Got]]:
    """The venue time and, per want, its closed klines (or the error that stopped it)."""
    try:
        now = await venue_time(client, backoff)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return None, [Got(w, error=f"venue time unavailable: {reason}") for w in wants]
    gate = asyncio.Semaphore(concurrency)

    async def one(w: Want) -> Got:
        async with gate:
            try:
                return await fetch_want(client, w, now, backoff, max_pages)
            except Exception as exc:
                return Got(w, error=f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    results = list(await asyncio.gather(*(one(w) for w in wants)))
    log.info(
        "klines polled",
        extra={"wants": len(wants), "klines": sum(len(g.klines) for g in results),
               "failed": sum(1 for g in results if g.error), "ms": round((time.perf_counter() - started) * 1000)},
    )  # fmt: skip
    return now, results
