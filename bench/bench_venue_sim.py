"""Venue simulator throughput through real ccxt: create + fetch + cancel, sync and async.

Runs ``kairos venue-sim`` in its own process (as ``make run`` does), so client and server
do not share a GIL. Prints order operations per second (one create, fetch or cancel
each count as one operation), client-observed latency per call, and the time the
simulator itself spent per request (from its audit log): the latency it adds.

    python -m bench venue_sim                      # defaults
    python -m bench.bench_venue_sim --orders 1000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from kairos.localinfra.ports import free_port, wait_for_port
from kairos.venues.binance_usdm.client import make_client

SYMBOL = "ETH/USDT:USDT"
KEY, SECRET = "bench-key", "bench-secret"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_round(ex: Any, lat: list[float]) -> None:
    for step in ("create", "fetch", "cancel"):
        t0 = time.perf_counter()
        if step == "create":
            order = ex.create_order(SYMBOL, "limit", "buy", 0.05, 1000)
        elif step == "fetch":
            ex.fetch_order(order["id"], SYMBOL)
        else:
            ex.cancel_order(order["id"], SYMBOL)
        lat.append(time.perf_counter() - t0)


def run_sync(base: str, orders: int) -> dict[str, float]:
    ex = make_client(base, KEY, SECRET)
    ex.load_markets()
    lat: list[float] = []
    for _ in range(20):  # warm-up: connections, caches
        one_round(ex, [])
    t0 = time.perf_counter()
    for _ in range(orders):
        one_round(ex, lat)
    wall = time.perf_counter() - t0
    return {"ops_per_s": 3 * orders / wall, "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


async def run_async(base: str, orders: int, concurrency: int) -> dict[str, float]:
    ex = make_client(base, KEY, SECRET, async_=True)
    lat: list[float] = []
    try:
        await ex.load_markets()

        async def worker(n: int) -> None:
            for _ in range(n):
                for step in ("create", "fetch", "cancel"):
                    t0 = time.perf_counter()
                    if step == "create":
                        order = await ex.create_order(SYMBOL, "limit", "buy", 0.05, 1000)
                    elif step == "fetch":
                        await ex.fetch_order(order["id"], SYMBOL)
                    else:
                        await ex.cancel_order(order["id"], SYMBOL)
                    lat.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker(5) for _ in range(concurrency)))  # warm-up
        lat.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(orders // concurrency) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    finally:
        await ex.close()
    done = (orders // concurrency) * concurrency
    return {"ops_per_s": 3 * done / wall, "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to measure the venue's own cost."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_ms(base: str) -> dict[str, float]:
    with urllib.request.urlopen(base + "/_sim/audit", timeout=30) as resp:
        records = json.loads(resp.read())
    ms = [r["ms"] for r in records if r["path"] in ("/fapi/v1/order",)]
    return {"p50_ms": pct(ms, 0.5), "p99_ms": pct(ms, 0.99), "requests": float(len(ms))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench venue_sim")
    parser.add_argument("--orders", type=int, default=500, help="create+fetch+cancel rounds per mode")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent async workers")
    args = parser.parse_args(argv)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kairos.cli", "venue-sim", "--port", str(port), "--clock", "stepped",
         "--api-key", KEY, "--api-secret", SECRET, "--log-level", "WARNING", "--balance", "10000000"],
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        print(f"machine: {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
        cpu0 = cpu_seconds(proc.pid)
        sync = run_sync(base, args.orders)
        print(f"sync ccxt   : {sync['ops_per_s']:7.0f} order ops/s  call p50 {sync['p50_ms']:.2f} ms"
              f"  p99 {sync['p99_ms']:.2f} ms  ({args.orders} create+fetch+cancel rounds)")  # fmt: skip
        conc = run_async(base, args.orders, args.concurrency)
        result = asyncio.run(conc)
        cpu2 = cpu_seconds(proc.pid)
        ops = 3 * (args.orders + 20) + 3 * ((args.orders // args.concurrency) + 5) * args.concurrency + 2
        print(f"async ccxt  : {result['ops_per_s']:7.0f} order ops/s  call p50 {result['p50_ms']:.2f} ms"
              f"  p99 {result['p99_ms']:.2f} ms  ({args.concurrency} concurrent workers)")  # fmt: skip
        srv = server_ms(base)
        print(f"venue added : p50 {srv['p50_ms']:.3f} ms  p99 {srv['p99_ms']:.3f} ms per /fapi/v1/order request"
              f" (server-side, {int(srv['requests'])} requests)")  # fmt: skip
        per_op = (cpu2 - cpu0) / ops * 1000
        print(f"venue CPU   : {per_op:.3f} ms per order operation (whole server process, {cpu2 - cpu0:.2f} s for"
              f" {ops} ops) -> capacity ~{1000 / per_op:.0f} ops/s per core")  # fmt: skip
        ok = min(sync["ops_per_s"], result["ops_per_s"]) >= 500
        print(f"target >= 500 order ops/s: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
