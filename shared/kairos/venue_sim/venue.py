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

from kairos.marketdata.timeframes import TIMEFRAME_MS, bucket_open, next_open
from kairos.venue_sim.engine import Engine
from kairos.venue_sim.history import MINUTE_MS, Archive
from kairos.venue_sim.pricepath import PricePath, build_paths
from kairos.venues.binance_usdm.markets import MARKETS as DEFAULT_MARKETS
from kairos.venues.markets import MarketSpec, markets_by_symbol

Ohlcv = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
KlineRow = tuple[int, int, Decimal, Decimal, Decimal, Decimal, Decimal]  # open, close time, OHLCV
BINANCE_USDM_LAUNCH_MS = 1_567_900_800_000  # 2019-09-08: the first USD-M perpetual


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
    history_start_ms: int = BINANCE_USDM_LAUNCH_MS  # the archive's (and klines') first candle


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
        self._archives: dict[str, Archive] = {}
        self.kline_fixes: dict[tuple[str, str, int], Ohlcv] = {}
        self.kline_holes: dict[str, list[tuple[int, int]]] = {}
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

    def archive(self, symbol: str) -> Archive:
        """The deterministic 1 m history before the first tick, ending at the first live price."""
        if symbol not in self._archives:
            spec = self.engine.spec(symbol)
            self._archives[symbol] = Archive(spec, self.config.seed, self.t0, self.prices[symbol][0])
        return self._archives[symbol]

    def klines(self, symbol: str, interval: str, start: int | None, end: int | None, limit: int) -> list[KlineRow]:
        """Binance's klines: buckets from the archive before the first tick and from the very
        ticks that drove matching after it; the current (unclosed) bucket is included, as on
        Binance. Holes and corrections set through the control API apply here."""
        spec = self.engine.spec(symbol)
        ms = TIMEFRAME_MS[interval]
        last_open = bucket_open(self.now_ms, interval)
        listing = bucket_open(max(self.config.history_start_ms, 0), interval)
        if start is None:
            t = min(last_open, bucket_open(end, interval)) if end is not None else last_open
            for _ in range(limit - 1):
                if t <= listing:
                    break
                t = bucket_open(t - 1, interval)
            first_open = t
        else:
            first_open = bucket_open(start, interval)
            if first_open < start:
                first_open = next_open(first_open, interval)
        archive = self.archive(symbol) if ms >= MINUTE_MS else None
        # Sub-minute candles exist only where ticks do (the archive is 1 m).
        first_open = max(first_open, listing if archive is not None else bucket_open(self.t0, interval))
        holes = self.kline_holes.get(symbol, ())
        rows: list[KlineRow] = []
        t = first_open
        while t <= last_open and len(rows) < limit and (end is None or t <= end):
            nt = next_open(t, interval)
            if not any(lo <= t < hi for lo, hi in holes):
                fixed = self.kline_fixes.get((symbol, interval, t))
                row = fixed if fixed is not None else self._bucket(spec, archive, t, nt)
                if row is not None:
                    rows.append((t, nt - 1, *row))
            t = nt
        return rows

    def _bucket(self, spec: MarketSpec, archive: Archive | None, t: int, nt: int) -> Ohlcv | None:
        bar = archive.span(t, nt) if archive is not None else None
        prices = [p for _, p in self.window(spec.symbol, t, nt)]
        if bar is None and not prices:
            return None
        live_volume = (spec.level_qty * len(prices) / 10).quantize(spec.step_size)
        if bar is None:
            return prices[0], max(prices), min(prices), prices[-1], live_volume
        tick, step = spec.tick_size, spec.step_size
        o, h, lo, c = (x * tick for x in (bar.open, bar.high, bar.low, bar.close))
        volume = (bar.volume * step + live_volume).quantize(step)
        if prices:
            h, lo, c = max(h, *prices), min(lo, *prices), prices[-1]
        return o.quantize(tick), h.quantize(tick), lo.quantize(tick), c.quantize(tick), volume

    def fix_kline(self, symbol: str, interval: str, open_time: int, values: Ohlcv) -> None:
        """Serve ``values`` for this candle from now on: the venue corrected it."""
        self.engine.spec(symbol)
        if interval not in TIMEFRAME_MS:
            raise ValueError(f"unknown interval {interval!r}")
        self.kline_fixes[(symbol, interval, open_time)] = values

    def add_kline_hole(self, symbol: str, start: int, end: int) -> None:
        """Serve no candle opening in [start, end): history the venue lost."""
        self.engine.spec(symbol)
        self.kline_holes.setdefault(symbol, []).append((start, end))

    def recent(self, symbol: str, limit: int) -> list[tuple[int, int, Decimal]]:
        """Synthetic public trades: one per tick, id = position in the tick history."""
        times, prices = self.times[symbol], self.prices[symbol]
        n = len(times)
        return [(i, times[i], prices[i]) for i in range(max(0, n - limit), n)]
