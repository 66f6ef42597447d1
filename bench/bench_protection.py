"""Positions integration benchmark (issue 7): detection, sync cycle, burst protection.

1. detection: ``DETECT_UNPROTECTED`` over N open positions (5 % unprotected) and 2N closed
   rows in the migrated schema (456 and 10,000 by default), p50 of 20 runs;
2. burst: N new positions (default 500; BTC, ETH and SOL on ceil(N/3) simulator accounts)
   entered at once, then delivered through executor -> portfolio -> position-sync -> executor
   (in process; rows of one topic and key in order, different keys on ``--workers`` threads);
   per position the wall time from sending the entry to ``protected_at`` (TP and SL resting):
   p50 / p99 / max;
3. sync cycle: one scheduler tick over those N protected positions, delivered to
   position-sync: wall time until every sync is handled (each a no-op).

Run: ``python -m bench protection [--burst 500] [--detect 456,10000]``. Starts its own
embedded Postgres, Tansu and simulator. Uses the positions tests' harness (tests/portfolio).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from kairos.positions import queries
from kairos.runtime.db import migrate
from kairos.venue_sim.venue import AccountSeed
from kairos_testkit.servers import embedded_servers
from kairos_testkit.venue_sim import running_venue_sim
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PAIRS = (("BTC/USDT:USDT", "0.010"), ("ETH/USDT:USDT", "0.100"), ("SOL/USDT:USDT", "2"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def new_db(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return make_conninfo("", **params)


def detection(server_url: str, n: int) -> dict[str, float]:
    url = new_db(server_url, f"detect_{n}")
    migrate(url)
    projection = json.dumps({})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO positions (position_id, account, venue, symbol, side, status, quantity, peak_quantity,"
            " entry_price, opened_at, updated_at, closed_at, mode, revision, projection, unprotected_since)"
            " SELECT 'p' || g, 'a' || g, 'binanceusdm', 'BTC/USDT:USDT', 'LONG',"
            "  CASE WHEN g <= %(n)s THEN 'OPEN' ELSE 'CLOSED' END, CASE WHEN g <= %(n)s THEN 1 ELSE 0 END, 1, 60000,"
            "  now() - interval '1 hour', now(), CASE WHEN g <= %(n)s THEN NULL ELSE now() END, 'LIVE', 1, %(p)s,"
            "  CASE WHEN g <= %(n)s AND g %% 20 = 0 THEN now() - (g || ' ms')::interval END"
            " FROM generate_series(1, 3 * %(n)s) g", {"n": n, "p": projection})
        conn.execute("VACUUM ANALYZE positions")
        times = []
        found = 0
        for _ in range(20):
            started = time.perf_counter()
            found = len(conn.execute(queries.DETECT_UNPROTECTED, {"now": datetime.now(UTC), "limit": n}).fetchall())
            times.append(time.perf_counter() - started)
    return {"open": n, "unprotected": found, "p50_ms": pct(times, 0.5) * 1000, "max_ms": max(times) * 1000}


def concurrent_pump(s: Any, workers: int, release: bool = False) -> int:
    """The tests' pump with KafkaSource-like concurrency: rows of one (topic, key) stay in order,
    different keys are delivered by ``workers`` threads at once (the catalog allows 32 per pod).
    Rows held back by their writer (``not_before``: a new position's emergency check, the
    scheduler's spreading) go out when due, as the publisher sends them; ``release`` sends them
    at once (to time the work of a scheduler tick, not the minute it is spread over)."""
    from kairos.contracts.codec import KafkaRecord, kafka_to_cloudevent

    handled = 0
    with ThreadPoolExecutor(workers) as pool:
        while True:
            rows = s.ready_rows(release, limit=2000)
            if not rows:
                if not s.later:
                    return handled
                time.sleep(0.05)
                continue
            lanes: dict[tuple[str, bytes], list[Any]] = defaultdict(list)
            for _rid, topic, key, headers, value, _nb in rows:
                hdrs = tuple((str(k), str(v).encode()) for k, v in headers)
                ce = kafka_to_cloudevent(KafkaRecord(bytes(key) if key else None, bytes(value), hdrs))
                for name in s.routes.get(topic, []):
                    if name in s.fns:
                        lanes[(name + topic, bytes(key or b""))].append((name, ce))

            def run(lane: list[Any]) -> None:
                for name, ce in lane:
                    s.deliver(name, ce)

            list(pool.map(run, lanes.values()))
            handled += len(rows)


def burst(server_url: str, bootstrap: str, n: int, workers: int) -> dict[str, float]:
    from kairos_testkit.protection_system import system  # the tests' in-process system and pump

    accounts = math.ceil(n / len(PAIRS))
    seeds = [(f"b-{i:04d}", f"bench-key-{i:04d}-abcd", f"bench-secret-{i:04d}-abcdefgh") for i in range(accounts)]
    url = new_db(server_url, f"burst_{n}")
    with running_venue_sim(seed=3, warmup_ticks=5,
                           accounts=[AccountSeed(k, s, Decimal("1000000")) for _, k, s in seeds]) as sim:
        for sym, price in (("BTCUSDT", "60000"), ("ETHUSDT", "3000"), ("SOLUSDT", "150")):
            sim.control.set_price(sym, price)
        with system(url, bootstrap, sim, seeds=seeds) as s:
            slots = [(a, sym, q) for a, _, _ in seeds for sym, q in PAIRS][:n]
            started = time.perf_counter()
            entered: dict[tuple[str, str], float] = {}
            for acct, sym, qty in slots:  # the burst: every entry order first, as a strategy would
                entered[(acct, sym)] = time.time()
                s.enter(qty, account=acct, symbol=sym)
            entries = time.perf_counter() - started
            concurrent_pump(s, workers)
            wall = time.perf_counter() - started
            with psycopg.connect(url) as conn:  # wall clock on both sides (the simulator's clock is stepped)
                rows = conn.execute("SELECT account, symbol, extract(epoch FROM protected_at) FROM positions"
                                    " WHERE protected_at IS NOT NULL").fetchall()
            delays = [float(r[2]) - entered[(r[0], r[1])] for r in rows]
            started = time.perf_counter()
            s.tick("position-scheduler")
            syncs = concurrent_pump(s, workers, release=True)
            cycle = time.perf_counter() - started
    return {"positions": n, "protected": len(delays), "entries_s": entries, "wall_s": wall, "p50_s": pct(delays, 0.5),
            "p99_s": pct(delays, 0.99), "max_s": max(delays), "cycle_s": cycle, "cycle_syncs": syncs}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench protection")
    ap.add_argument("--burst", type=int, default=500)
    ap.add_argument("--detect", default="456,10000")
    ap.add_argument("--workers", type=int, default=8, help="concurrent deliveries (different keys)")
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()}", flush=True)
    with embedded_servers("kairos-bench-pos-") as servers:
        for n in (int(x) for x in args.detect.split(",") if x):
            print("detection", detection(servers.url, n), flush=True)
        if args.burst:
            print("burst", burst(servers.url, servers.bootstrap, args.burst, args.workers), flush=True)
    print(f"load average {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
