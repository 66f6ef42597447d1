"""Backtest speed: an SMA(10/20) crossover over one-minute candles.

Three parts:

- ``sim``: the simulation alone (indicators, rule truth, the decision loop, fills, equity
  curve, metrics, result hash: ``runner.compute``) over N seeded random-walk candles in this
  process; candles/s by wall clock and by this process's CPU time (the machine is shared, so
  CPU time is the steadier figure of what one core does).
- ``e2e``: N candles stored in a fresh embedded Postgres, then ``kairos backtest run`` as its own
  process (migrate, read the candles, hash them, simulate, store the run and result, write the
  HTML report): wall time and the child's peak RSS.
- ``peer``: the same candles and crossover through backtesting.py and through ``runner.compute``
  with the conventions it uses (next-open fills, commission fraction, all-equity sizing), timed
  alternately in this process, and their trades compared (``bench/peer_backtesting.py``; it
  installs backtesting.py into ``.state/bench-peer`` on first use). Not in the default parts.

    .venv/bin/python -m bench backtest [--candles 1000000] [--parts sim,e2e,peer] [--repeat 3]
        [--peer-candles 100000,1000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg
from kairos.backtest.config import BacktestRequest
from kairos.backtest.runner import compute
from kairos.marketdata import store
from kairos.runtime.db import migrate
from kairos.strategies import store as strategies
from kairos.strategies.indicators import Candles
from kairos.strategies.language import StrategySpec, parse
from kairos_testkit.servers import embedded_servers

START = datetime(2024, 1, 1, tzinfo=UTC)
T0 = int(START.timestamp() * 1000)
SYMBOL = "BTC/USDT:USDT"


#: ``kairos`` as a child that reports its own peak RSS (VmHWM) and CPU seconds when it ends
CHILD = """
import resource, sys
from kairos.cli import main
rc = main(sys.argv[1:])
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
u = resource.getrusage(resource.RUSAGE_SELF)
print("child-peak", hwm, u.ru_utime + u.ru_stime, flush=True)
sys.exit(rc)
"""


def sma_spec() -> StrategySpec:
    return parse({
        "name": "bench-sma", "account": "bench", "universe": {"venue": "binanceusdm", "symbols": [SYMBOL],
                                                              "timeframe": "1m"},
        "indicators": {"fast": {"type": "sma", "period": 10}, "slow": {"type": "sma", "period": 20}},
        "rules": {"long": {"entry": {"crosses_above": ["fast", "slow"]}, "exit": {"crosses_below": ["fast", "slow"]}},
                  "short": {"entry": {"crosses_below": ["fast", "slow"]}, "exit": {"crosses_above": ["fast", "slow"]}}},
        "sizing": {"type": "fixed_notional", "notional": "1000"},
    })  # fmt: skip


def walk(n: int) -> Candles:
    rng = np.random.default_rng(17)
    close = np.round(30_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n))), 1)
    open_ = np.concatenate(([30_000.0], close[:-1]))
    high = np.round(np.maximum(open_, close) * 1.0004, 1)
    low = np.round(np.minimum(open_, close) * 0.9996, 1)
    t = T0 + np.arange(n, dtype=np.int64) * 60_000
    return Candles(t, open_, high, low, close, np.ones(n))


def bench_sim(n: int, repeat: int) -> None:
    spec, candles = sma_spec(), walk(n)
    req = BacktestRequest(strategy_id=spec.name, start=START, end=START + timedelta(minutes=n), balance=Decimal(10000))
    for k in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        digest, result = compute(spec, {SYMBOL: candles}, req, "1m", lambda *_: None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"sim run {k + 1}: {n:,} candles, {len(result['trades']):,} trades, wall {wall:.2f} s"
              f" ({n / wall:,.0f} candles/s), CPU {cpu:.2f} s ({n / cpu:,.0f} candles/s), hash {digest[:12]}")


def bench_e2e(n: int) -> None:
    with embedded_servers("kairos-bench-bt-", broker=False) as servers:
        url, root = servers.url, servers.root
        migrate(url)
        c = walk(n)
        rows: list[store.Row] = []
        for i in range(n):
            t = datetime.fromtimestamp(int(c.open_time[i]) / 1000, UTC)
            rows.append((t, t + timedelta(seconds=59.999), Decimal(repr(float(c.open[i]))),
                         Decimal(repr(float(c.high[i]))), Decimal(repr(float(c.low[i]))),
                         Decimal(repr(float(c.close[i]))), Decimal(1), None, None))  # fmt: skip
        with psycopg.connect(url) as conn:
            store.copy_new_candles(conn, "binanceusdm", SYMBOL, "1m", rows, "import")
            strategies.create(conn, sma_spec(), "bench")
            conn.commit()
        del rows
        end = (START + timedelta(minutes=n)).isoformat()
        cmd = [sys.executable, "-c", CHILD, "backtest", "run", "--strategy", "bench-sma", "--from",
               START.isoformat(), "--to", end, "--no-progress", "--html", str(root / "report.html")]  # fmt: skip
        env = {**os.environ, "DATABASE_URL": url}
        log = root / "out.txt"
        with log.open("w") as sink:
            wall = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
            status = proc.wait()
            wall = time.perf_counter() - wall
        text = log.read_text()
        if status != 0:
            print(text, file=sys.stderr)
            raise SystemExit(f"kairos backtest run failed ({status})")
        # the child's own high-water mark (VmHWM of its process after exec; ru_maxrss of a child
        # would report this benchmark's own RSS at the fork), and its CPU time
        hwm_kb, cpu = (float(x) for x in text.rsplit("child-peak", 1)[1].split()[:2])
        peak = hwm_kb / 1024
        first = text.splitlines()[0]
        stages(url, n)
        print(f"e2e: kairos backtest run over {n:,} stored candles: wall {wall:.2f} s"
              f" ({n / wall:,.0f} candles/s), CPU of the process {cpu:.2f} s (Postgres not included),"
              f" peak RSS of the process {peak:.0f} MB; {first}")  # fmt: skip


def stages(url: str, n: int) -> None:
    """Where the end-to-end time goes, stage by stage, in this process."""
    from kairos.backtest import data, report, runner

    req = BacktestRequest(strategy_id="bench-sma", start=START, end=START + timedelta(minutes=n), balance=Decimal(1))
    with psycopg.connect(url) as conn:
        t = time.perf_counter()
        _version, spec, tf, series = runner.plan(conn, req)
        t1 = time.perf_counter()
        version = data.version(series)
        t2 = time.perf_counter()
        compute(spec, series, req, tf, lambda *_: None)
        t3 = time.perf_counter()
        run = runner.load_result(conn, runner.runs(conn)[0]["run_id"])
        t4 = time.perf_counter()
        report.html_report(run)
        t5 = time.perf_counter()
    print(f"stages: read candles {t1 - t:.2f} s, data version {t2 - t1:.2f} s ({version[:8]}), simulate+result"
          f" {t3 - t2:.2f} s, read a stored result {t4 - t3:.2f} s, HTML report {t5 - t4:.2f} s")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_backtest")
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--parts", default="sim,e2e")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-candles", default="100000,1000000", help="sizes for the peer part, comma-separated")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f} (shared with other work)")  # fmt: skip
    parts = set(args.parts.split(","))
    if "sim" in parts:
        bench_sim(args.candles, args.repeat)
    if "e2e" in parts:
        bench_e2e(args.candles)
    if "peer" in parts:
        from bench.peer_backtesting import bench_peer

        sizes = [int(x) for x in args.peer_candles.split(",")]
        bench_peer(sizes, args.repeat, walk, sma_spec(), SYMBOL, START, T0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
