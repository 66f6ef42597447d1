"""Deterministic candle history before the market clock's first tick, and interval buckets.

The live ticks only cover the run (plus its warm-up), yet a backfill pages through months
of 1 m candles. So before the first tick the venue serves an *archive*: one 1 m candle per
minute, a pure function of (seed, symbol, minute) and of the first live price, so the same
configuration always answers the same candles and the archive's last close is the first
live price (no jump where the archive meets the ticks). It costs O(1) per candle: a sum of
a few seeded sine waves (slow trends) plus hashed noise, never a walk that has to be
replayed from the beginning.

Buckets follow Binance, as ``kairos.marketdata.timeframes`` states them.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from decimal import Decimal

from kairos.venues.markets import MarketSpec

MINUTE_MS = 60_000
# Above this many minutes per candle, high/low/volume come from a sample of the minutes
# (at most this many per candle) so a request for 1 d or 1 M candles stays cheap.
MAX_MINUTES_PER_CANDLE = 60
# (period in minutes, amplitude of the log price)
WAVES: tuple[tuple[int, float], ...] = ((97, 0.002), (1_433, 0.01), (10_079, 0.03), (43_201, 0.06))
NOISE = 0.0005
WICK = 0.0008
_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a well-spread 64-bit hash of an integer (fast, no RNG state)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True)
class Bar:
    """One candle in whole ticks (price) and whole steps (volume)."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int


class Archive:
    """The 1 m candles of one symbol before ``end_ms`` (minute aligned), ending at ``anchor``."""

    def __init__(self, spec: MarketSpec, seed: int, end_ms: int, anchor: Decimal) -> None:
        self.spec = spec
        self.end_ms = end_ms // MINUTE_MS * MINUTE_MS
        self._key = _mix(seed * 1_000_003 + zlib.crc32(spec.symbol.encode()))
        self._phases = [((_mix(self._key + i) >> 11) / 2**53) * 2 * math.pi for i in range(len(WAVES))]
        self._anchor_ticks = max(1, int(anchor / spec.tick_size))
        self._end_minute = self.end_ms // MINUTE_MS
        self._level_end = self._level(self._end_minute)
        self._lot_steps = max(1, int(spec.level_qty / spec.step_size))

    def _level(self, minute: int) -> float:
        total = 0.0
        for (period, amp), phase in zip(WAVES, self._phases, strict=True):
            total += amp * math.sin(2 * math.pi * minute / period + phase)
        return total + NOISE * ((_mix(self._key ^ minute) >> 11) / 2**53 - 0.5)

    def _price(self, minute: int) -> int:
        if minute == self._end_minute:
            return self._anchor_ticks
        return max(1, round(self._anchor_ticks * math.exp(self._level(minute) - self._level_end)))

    def minute(self, open_time: int) -> Bar:
        """The archived 1 m candle opening at ``open_time`` (must be < ``end_ms``)."""
        m = open_time // MINUTE_MS
        o, c = self._price(m), self._price(m + 1)
        h_ = _mix(self._key + 7 * m + 3)
        up = int(max(o, c) * WICK * ((h_ & 0xFFFF) / 0xFFFF))
        down = int(min(o, c) * WICK * (((h_ >> 16) & 0xFFFF) / 0xFFFF))
        volume = self._lot_steps * (1 + ((h_ >> 32) & 0x3F))
        return Bar(open_time, o, max(o, c) + up, max(1, min(o, c) - down), c, volume)

    def span(self, start: int, end: int) -> Bar | None:
        """One candle aggregating the archived minutes in [start, min(end, end_ms))."""
        stop = min(end, self.end_ms)
        if start >= stop:
            return None
        minutes = (stop - start) // MINUTE_MS
        every = max(1, math.ceil(minutes / MAX_MINUTES_PER_CANDLE))
        bars = [self.minute(t) for t in range(start, stop, every * MINUTE_MS)]
        volume = sum(b.volume for b in bars) * every
        if bars[-1].open_time != stop - MINUTE_MS:
            bars.append(self.minute(stop - MINUTE_MS))
        high, low = max(b.high for b in bars), min(b.low for b in bars)
        return Bar(start, bars[0].open, high, low, bars[-1].close, volume)
