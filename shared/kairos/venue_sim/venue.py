"""The venue: matching engine + price paths + a market clock that tests can step.

Two clocks on purpose. The *market clock* (tick index ``k``, ``now_ms``) drives prices,
candles and order timestamps; it runs in real time, accelerated, or only when stepped.
The *request clock* (wall time plus an injectable skew) is what signed requests'
``timestamp``/``recvWindow`` and ``/fapi/v1/time`` use, as on the real venue; stepping
the market never makes ccxt's signatures stale.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from kairos.venue_sim.engine import Engine
from kairos.venue_sim.markets import DEFAULT_MARKETS, MarketSpec, markets_by_symbol
from kairos.venue_sim.pricepath import PricePath, build_paths


@dataclass
class AccountSeed:
    api_key: str
    secret: str
    balance: Decimal = Decimal("100000")


@dataclass
class VenueConfig:
    """Everything that makes a run reproducible: same config, same prices and fills."""

    seed: int = 1
    data: Path | None = None
    markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS
    accounts: list[AccountSeed] = field(default_factory=list)
    tick_ms: int = 1000
    warmup_ticks: int = 600
    start_ms: int | None = None  # market clock at the end of warm-up; default: wall clock
    clock: str = "stepped"  # "stepped" | "realtime"
    speed: float = 1.0  # market ticks per wall tick in realtime mode (> 1 = accelerated)
    unique_client_ids: str = "open"
    funding_rate: Decimal | None = None  # None: no funding; else settled every funding_interval_ms
    funding_interval_ms: int = 8 * 3_600_000


class Venue:
    """Owns the engine and decides which price each symbol has at each tick."""

    def __init__(self, config: VenueConfig) -> None:
        self.config = config
        self.specs = markets_by_symbol(config.markets)
        self.engine = Engine(self.specs, unique_client_ids=config.unique_client_ids)
        self.paths: dict[str, PricePath] = build_paths(self.specs, config.seed, config.data)
        start = config.start_ms if config.start_ms is not None else int(time.time()) * 1000
        self.t0 = start - config.warmup_ticks * config.tick_ms
        self.k = 0
        self.override: dict[str, Decimal] = {}
        self.mark_offset: dict[str, Decimal] = {}
        self.scripts: dict[str, deque[Decimal]] = {s: deque() for s in self.specs}
        self.times: dict[str, list[int]] = {s: [] for s in self.specs}
        self.prices: dict[str, list[Decimal]] = {s: [] for s in self.specs}
        self.clock = config.clock
        self.speed = config.speed
        self._wall0 = time.monotonic()
        self._k_at_wall0 = 0
        self._apply_tick()
        self.step(config.warmup_ticks)
        self._wall0, self._k_at_wall0 = time.monotonic(), self.k
        for seed in config.accounts:
            self.engine.add_account(seed.api_key, seed.secret, seed.balance)

    @property
    def now_ms(self) -> int:
        return self.t0 + self.k * self.config.tick_ms

    def step(self, ticks: int = 1) -> None:
        """Advance the market clock ``ticks`` ticks, matching after every one."""
        for _ in range(ticks):
            self.k += 1
            self._apply_tick()

    def step_ms(self, ms: int) -> int:
        ticks = max(0, ms // self.config.tick_ms)
        self.step(ticks)
        return ticks

    def sync_wall(self) -> None:
        """Realtime mode: catch the market clock up with the wall clock times ``speed``."""
        if self.clock != "realtime":
            return
        elapsed = (time.monotonic() - self._wall0) * 1000 * self.speed
        target = self._k_at_wall0 + int(elapsed // self.config.tick_ms)
        if target > self.k:
            self.step(target - self.k)

    def set_clock(self, mode: str, speed: float = 1.0) -> None:
        if mode not in ("stepped", "realtime"):
            raise ValueError(f"clock mode {mode!r} is not 'stepped' or 'realtime'")
        self.clock, self.speed = mode, speed
        self._wall0, self._k_at_wall0 = time.monotonic(), self.k

    def set_price(self, symbol: str, price: Decimal, mark: Decimal | None = None, *, hold: bool = True) -> None:
        """Move ``symbol`` to ``price`` now (and hold it there while ``hold``), then match."""
        spec = self.engine.spec(symbol)
        price = spec.round_price(price)
        if hold:
            self.override[symbol] = price
        if mark is not None:
            self.mark_offset[symbol] = spec.round_price(mark) - price
        self._apply(symbol, price)

    def release(self, symbol: str) -> None:
        """Let ``symbol`` follow its path again from the next tick."""
        self.override.pop(symbol, None)
        self.mark_offset.pop(symbol, None)
        self.scripts[symbol].clear()

    def script(self, symbol: str, prices: list[Decimal]) -> None:
        """Queue one price per coming tick for ``symbol``; the last one is then held."""
        spec = self.engine.spec(symbol)
        self.scripts[symbol].extend(spec.round_price(p) for p in prices)

    def _apply_tick(self) -> None:
        interval, rate = self.config.funding_interval_ms, self.config.funding_rate
        settle = (
            rate is not None
            and self.k > 0
            and (self.now_ms // interval) != ((self.now_ms - self.config.tick_ms) // interval)
        )
        for symbol in self.specs:
            queue = self.scripts[symbol]
            if queue:
                price = queue.popleft()
                self.override[symbol] = price
            else:
                price = self.override.get(symbol) or self.paths[symbol].price(self.k)
            self._apply(symbol, price)
            if settle and rate is not None:
                self.engine.apply_funding(symbol, rate)

    def _apply(self, symbol: str, price: Decimal) -> None:
        mark = price + self.mark_offset.get(symbol, Decimal(0))
        self.engine.set_price(symbol, price, mark, self.now_ms)
        self.times[symbol].append(self.now_ms)
        self.prices[symbol].append(price)

    # ---------------------------------------------------------- market data
    def window(self, symbol: str, start: int, end: int) -> list[tuple[int, Decimal]]:
        times, prices = self.times[symbol], self.prices[symbol]
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
        return list(zip(times[lo:hi], prices[lo:hi], strict=True))

    def klines(
        self, symbol: str, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
        """OHLCV buckets built from the very ticks that drove matching."""
        spec = self.engine.spec(symbol)
        last_open = (self.now_ms // interval_ms) * interval_ms
        if start is None:
            first_open = last_open - (limit - 1) * interval_ms
            if end is not None:
                first_open = (end // interval_ms) * interval_ms - (limit - 1) * interval_ms
        else:
            first_open = ((start + interval_ms - 1) // interval_ms) * interval_ms
        rows: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]] = []
        t = first_open
        while t <= last_open and len(rows) < limit and (end is None or t <= end):
            pts = self.window(symbol, t, t + interval_ms)
            if pts:
                ps = [p for _, p in pts]
                vol = (spec.level_qty * len(ps) / 10).quantize(spec.step_size)
                rows.append((t, ps[0], max(ps), min(ps), ps[-1], vol))
            t += interval_ms
        return rows

    def recent(self, symbol: str, limit: int) -> list[tuple[int, int, Decimal]]:
        """Synthetic public trades: one per tick, id = position in the tick history."""
        times, prices = self.times[symbol], self.prices[symbol]
        n = len(times)
        return [(i, times[i], prices[i]) for i in range(max(0, n - limit), n)]
