"""Deterministic price paths: a seeded regime-switching generator, or a candle-file replay.

A path maps a tick index to a last price; the same index always gives the same price,
so a run is reproducible from (seed, data file, tick index). Prices are whole ticks of
the market, held as integers while generating so no float ever becomes money: the
random draw only decides how many ticks the price moves.
"""

from __future__ import annotations

import csv
import random
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from kairos.venues.markets import MarketSpec

BUNDLED_CANDLES = Path(__file__).parent / "data" / "candles_1m.csv"


class PricePath(Protocol):
    def price(self, k: int) -> Decimal:
        """Last price at tick ``k`` (k >= 0)."""
        ...


# (name, drift per tick as a fraction, volatility per tick as a fraction, gap probability)
REGIMES: tuple[tuple[str, float, float, float], ...] = (
    ("calm", 0.0, 0.0001, 0.0),
    ("trend_up", 0.00002, 0.00015, 0.0),
    ("trend_down", -0.00002, 0.00015, 0.0),
    ("burst", 0.0, 0.0005, 0.0003),
)


class SeededPath:
    """Random walk in whole ticks whose regime (calm, trends, volatility bursts with gaps)
    changes every few hundred ticks; seeded per symbol so markets move independently."""

    def __init__(self, spec: MarketSpec, seed: int) -> None:
        self.spec = spec
        self._rng = random.Random(seed * 1_000_003 + zlib.crc32(spec.symbol.encode()))
        start = int(spec.initial_price / spec.tick_size)
        self._ticks: list[int] = [start]
        self._floor = max(1, start // 20)
        self._regime = REGIMES[0]
        self._regime_left = 0

    def price(self, k: int) -> Decimal:
        while len(self._ticks) <= k:
            self._extend()
        return (self._ticks[k] * self.spec.tick_size).quantize(self.spec.tick_size)

    def _extend(self) -> None:
        rng = self._rng
        if self._regime_left <= 0:
            self._regime = REGIMES[rng.randrange(len(REGIMES))]
            self._regime_left = rng.randint(120, 900)
        self._regime_left -= 1
        _, drift, vol, gap = self._regime
        current = self._ticks[-1]
        move = rng.gauss(drift, vol)
        if gap and rng.random() < gap:
            move += rng.choice((-1, 1)) * rng.uniform(0.01, 0.03)
        self._ticks.append(max(self._floor, current + round(current * move)))


@dataclass(frozen=True)
class Candle:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def load_candles(path: Path) -> dict[str, list[Candle]]:
    """Read ``symbol,open_time,open,high,low,close,volume`` rows (header required)."""
    out: dict[str, list[Candle]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            candle = Candle(
                int(row["open_time"]),
                Decimal(row["open"]),
                Decimal(row["high"]),
                Decimal(row["low"]),
                Decimal(row["close"]),
                Decimal(row["volume"]),
            )
            out.setdefault(row["symbol"], []).append(candle)
    for candles in out.values():
        candles.sort(key=lambda c: c.open_time)
    return out


class ReplayPath:
    """Each candle becomes four ticks: open, the nearer extreme, the farther one, close.

    When the file runs out the replay starts again, scaled so the first open continues
    from the last close (no jump back in level).
    """

    TICKS_PER_CANDLE = 4

    def __init__(self, spec: MarketSpec, candles: list[Candle]) -> None:
        if not candles:
            raise ValueError(f"no candles for {spec.symbol}: add rows to the data file or drop the symbol")
        self.spec = spec
        self.candles = candles
        self._loop_scale: list[Decimal] = [Decimal(1)]

    def price(self, k: int) -> Decimal:
        n = len(self.candles)
        idx, phase = divmod(k, self.TICKS_PER_CANDLE)
        loop, i = divmod(idx, n)
        while len(self._loop_scale) <= loop:
            prev = self._loop_scale[-1]
            self._loop_scale.append(prev * self.candles[-1].close / self.candles[0].open)
        c = self.candles[i]
        up = c.close >= c.open
        points = (c.open, c.low if up else c.high, c.high if up else c.low, c.close)
        return self.spec.round_price(points[phase] * self._loop_scale[loop])


def build_paths(specs: dict[str, MarketSpec], seed: int, data: Path | None) -> dict[str, PricePath]:
    """Replay ``data`` for the symbols it covers; a seeded generator for the rest."""
    candles = load_candles(data) if data is not None else {}
    paths: dict[str, PricePath] = {}
    for symbol, spec in specs.items():
        if symbol in candles:
            paths[symbol] = ReplayPath(spec, candles[symbol])
        else:
            paths[symbol] = SeededPath(spec, seed)
    return paths
