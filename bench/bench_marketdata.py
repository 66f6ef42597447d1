"""Market data: COPY storage of candles, a backfill through ccxt, one minute's poll, ticker -> mark.

    python -m bench marketdata                                   # every part, defaults
    python -m bench marketdata --parts store --candles 1000000   # COPY throughput and peak RSS
    python -m bench marketdata --parts poll --symbols 200        # one candles-cron tick
    python -m bench marketdata --parts ticker --polls 24         # venue -> mark_prices latency

- store: ``store.copy_new_candles`` in pages of 1,500 (a backfill's page), one transaction
  each, into a fresh embedded Postgres; candles/s counting only the time spent storing,
  and overall (with generating the rows); peak RSS of this process (the rows are generated
  page by page, so memory should stay flat whatever the count).
- backfill: ``kairos.marketdata.backfill`` against a simulator in its own process, over HTTP.
- poll: one ``candles_job.tick`` (subscriptions read, venue time, klines of every symbol,
  raw events built) for N subscribed symbols whose cursor is three minutes back.
- ticker: the ticker source at its default 5 s interval -> the broker -> normalize-tickers
  (in process) -> ``mark_prices`` committed; latency from the poll's fetch to the commit.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from kairos.marketdata import candles_job, store
from kairos.marketdata.timeframes import from_ms, to_ms
from kairos.runtime.db import migrate
from kairos.venues.binance_usdm import VENUE
from kairos.venues.binance_usdm.markets import MARKETS
from kairos.venues.binance_usdm.symbols import unified_symbol
from kairos.venues.markets import MarketSpec
from kairos_testkit.servers import embedded_servers


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pages(n: int, page: int = 1500) -> Iterator[list[store.Row]]:
    """``n`` 1 m candles from 2020-01-01 in pages; values cycle through a small pool (cheap to make)."""
    pool = [Decimal(60000 + i) / 10 for i in range(997)]
    t0 = to_ms(datetime(2020, 1, 1, tzinfo=UTC))
    done = 0
    while done < n:
        rows: list[store.Row] = []
        for i in range(done, min(n, done + page)):
            p = pool[i % 997]
            t = t0 + i * 60_000
            rows.append((from_ms(t), from_ms(t + 59_999), p, p + 1, p - 1, p, Decimal(i % 50), None, None))
        done += len(rows)
        yield rows


def bench_store(url: str, n: int, page: int = 1500) -> None:
    with psycopg.connect(url) as conn:
        store_s = 0.0
        stored = 0
        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
        for rows in pages(n, page):
            t = time.perf_counter()
            with conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")  # as the backfill does
                stored += store.copy_new_candles(conn, VENUE, "BENCH/USDT:USDT", "1m", rows, "backfill")
            store_s += time.perf_counter() - t
            if stored % 150_000 < page:
                samples.append((stored, rss_mb()))
        wall = time.perf_counter() - started
    trail = ", ".join(f"{k // 1000}k: {mb:.0f} MB" for k, mb in samples[:8])
    print(
        f"store: {stored:,} candles stored with COPY in pages of {page:,}: {stored / store_s:,.0f} candles/s storing "
        f"({store_s:.1f} s), {stored / wall:,.0f} candles/s with row generation ({wall:.1f} s)"
    )
    print(f"store: RSS along the way {trail}; peak RSS of this process {peak_rss_mb():.0f} MB")


def sim_markets(n: int) -> tuple[MarketSpec, ...]:
    """The simulator's markets for ``n`` symbols: the three real ones when they are enough,
    else ``n`` renamed copies (C000USDT, C001USDT, ...)."""
    if n <= len(MARKETS):
        return MARKETS
    return tuple(
        dataclasses.replace(MARKETS[i % len(MARKETS)], symbol=f"C{i:03d}USDT", base=f"C{i:03d}") for i in range(n)
    )


def _serve_sim(port: int, markets: int, ready: Any, stop: Any) -> None:
    from kairos_testkit.venue_sim import running_venue_sim

    with running_venue_sim(seed=5, port=port, clock="realtime", warmup_ticks=5, markets=sim_markets(markets)):
        ready.set()
        stop.wait()


class SimProcess:
    """The simulator in a process of its own, so it does not share the benchmark's GIL."""

    def __init__(self, markets: int) -> None:
        from kairos.localinfra.ports import free_port

        self.port = free_port()
        self.ready, self.stop_ev = multiprocessing.Event(), multiprocessing.Event()
        self.proc = multiprocessing.Process(target=_serve_sim, args=(self.port, markets, self.ready, self.stop_ev))
        self.proc.start()
        if not self.ready.wait(120):
            raise RuntimeError("simulator did not start")
        self.base_url = f"http://127.0.0.1:{self.port}"
        #: the unified names of the first ``markets`` symbols it serves
        self.symbols = [unified_symbol(m.symbol) for m in sim_markets(markets)][:markets]

    def close(self) -> None:
        self.stop_ev.set()
        self.proc.join(10)


def bench_backfill(url: str, candles: int) -> None:
    from kairos.marketdata.backfill import backfill
    from kairos.venues.binance_usdm.client import make_client

    sim = SimProcess(3)
    try:
        client = make_client(sim.base_url)
        since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=candles + 5)
        with psycopg.connect(url) as conn:
            t = time.perf_counter()
            result = backfill(conn, client, VENUE, "ETH/USDT:USDT", "1m", since, since + timedelta(minutes=candles))
            wall = time.perf_counter() - t
        print(
            f"backfill: {result.stored:,} candles through ccxt over HTTP from the simulator: "
            f"{result.stored / wall:,.0f} candles/s ({wall:.1f} s; fetch-bound)"
        )
    finally:
        sim.close()


def bench_poll(url: str, symbols: int) -> None:
    from kairos.contracts.envelope import new_event
    from kairos.contracts.ops import PingTick

    sim = SimProcess(symbols)
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE market_subscriptions")
            for sym in sim.symbols:
                store.subscribe(conn, VENUE, sym, "1m", now - timedelta(hours=1))
            conn.execute("UPDATE market_subscriptions SET last_open_time = %s", (now - timedelta(minutes=3),))
        env = {"KAIROS_VENUE_BASE_URL": sim.base_url}
        times = []
        for _ in range(3):
            with psycopg.connect(url) as conn:
                t = time.perf_counter()
                out = candles_job.tick(conn, new_event(PingTick(job="candles"), source="/b", partition_key="b"), env,
                                       "/kairos/candles-cron")  # fmt: skip
                times.append(time.perf_counter() - t)
                conn.rollback()
        print(
            f"poll: one candles-cron tick for {symbols} subscribed symbols (1m, cursor 3 min back): "
            f"{len(out)} raw klines; {min(times):.2f} s best / {max(times):.2f} s worst of 3 (target: within 10 s)"
        )
    finally:
        sim.close()


def bench_ticker(url: str, bootstrap: str, symbols: int, polls: int, interval: float, concurrency: int = 8) -> None:
    from kafka import KafkaConsumer
    from kairos.bus.kafka import TANSU_CONSUMER_SETTINGS, ensure_catalog_topics
    from kairos.bus.sinks import KafkaSink
    from kairos.contracts.codec import KafkaRecord, from_kafka, kafka_to_cloudevent
    from kairos.marketdata.tickers import TOPIC, TickerSource
    from kairos.venues.binance_usdm.client import make_client
    from kairos_testkit.functions import in_process, runtime_env

    ensure_catalog_topics(bootstrap)
    sim = SimProcess(symbols)
    wanted = sim.symbols
    latencies: list[float] = []
    stop = threading.Event()
    try:
        with in_process("normalize-tickers", runtime_env(url, bootstrap)) as fn:
            consumer = KafkaConsumer(
                "raw.binance_usdm.ticker", bootstrap_servers=bootstrap, group_id="bench-ticker",
                auto_offset_reset="latest", enable_auto_commit=False, **TANSU_CONSUMER_SETTINGS,
            )  # fmt: skip
            consumer.poll(timeout_ms=500)
            sink = KafkaSink(bootstrap, TOPIC, client_id="bench-tickers")
            source = TickerSource(make_client(sim.base_url), sink, lambda: wanted, interval_s=interval)
            runner = threading.Thread(target=source.run, args=(stop,), daemon=True)
            runner.start()
            deadline = time.monotonic() + polls * interval + 10

            def handle(r: Any) -> None:
                rec = KafkaRecord(key=r.key, value=r.value, headers=tuple((k, v) for k, v in r.headers))
                env = from_kafka(rec)
                outcome = fn.process(kafka_to_cloudevent(rec))
                if outcome.status < 300 and not outcome.duplicate:
                    latencies.append((datetime.now(UTC) - env.data.fetched_at).total_seconds())

            # the subscription is unordered: the delivery hands a batch to the function concurrently
            with ThreadPoolExecutor(max_workers=concurrency) as workers:
                while time.monotonic() < deadline and len(latencies) < polls * symbols:
                    records = [r for batch in consumer.poll(timeout_ms=50).values() for r in batch]
                    list(workers.map(handle, records))
            stop.set()
            runner.join(10)
            sink.close()
            consumer.close()
    finally:
        sim.close()
    if latencies:
        print(
            f"ticker: {len(latencies)} ticker events ({symbols} symbols, every {interval:g} s): fetch -> broker -> "
            f"normalize-tickers ({concurrency} at a time) -> mark_prices committed "
            f"p50 {pct(latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {pct(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
            f"(plus up to one interval of waiting for the next poll)"
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_marketdata")
    parser.add_argument("--parts", default="store,backfill,poll,ticker")
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1500, help="candles per COPY (a backfill stores one page of 1,500)")
    parser.add_argument("--backfill-candles", type=int, default=30_000)
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--ticker-symbols", type=int, default=50)
    parser.add_argument("--polls", type=int, default=24)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} (shared with other work)"
    )
    with embedded_servers("kairos-bench-md-", broker="ticker" in parts) as servers:
        migrate(servers.url)
        if "store" in parts:
            bench_store(servers.url, args.candles, args.page)
        if "backfill" in parts:
            bench_backfill(servers.url, args.backfill_candles)
        if "poll" in parts:
            bench_poll(servers.url, args.symbols)
        if "ticker" in parts:
            bench_ticker(servers.url, servers.bootstrap, args.ticker_symbols, args.polls, args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
