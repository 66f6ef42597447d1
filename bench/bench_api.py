"""Operator API: read latency at a fixed request rate, and fill -> stream (dashboard) latency.

    python -m bench api                                  # 200 req/s for 20 s, 40 fills
    python -m bench api --rate 200 --seconds 30 --fills 60

- reads: one ``kairos serve api`` process (one instance) on a fresh embedded Postgres with
  100 seeded trades; an open-loop client (asyncio + httpx) sends GETs on a fixed schedule,
  rotating over positions, orders, fills, pnl and market-data, as one logged-in viewer.
  Latency is measured from each request's *scheduled* time, so a server that falls behind
  is charged for the queue (no coordinated omission).
- stream: a client follows ``/api/v1/stream`` as the dashboard does; a fill (with its
  order and position) is committed and the time until the stream delivers it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import threading
import time

import httpx
from kairos_testkit.operator_api import seed_trade, served_api
from kairos_testkit.servers import embedded_servers


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PATHS = [
    "/api/v1/positions",
    "/api/v1/orders?limit=50",
    "/api/v1/fills?limit=50",
    "/api/v1/pnl",
    "/api/v1/market-data/S1/USDT:USDT",
]


async def reads(url: str, headers: dict[str, str], rate: float, seconds: float) -> tuple[list[float], int, float]:
    """Latencies (from each request's scheduled time), errors, and the rate sustained: the
    requests answered over the time from the first scheduled send to the last answer."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as client:
        start = time.perf_counter() + 0.5

        async def one(i: int) -> None:
            nonlocal errors
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                answer = await client.get(PATHS[i % len(PATHS)])
                if answer.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(i) for i in range(total)))
        sustained = total / (time.perf_counter() - start)
    return latencies, errors, sustained


def stream_latency(url: str, database_url: str, headers: dict[str, str], fills: int) -> list[float]:
    seen: dict[str, float] = {}
    ready = threading.Event()

    def follow() -> None:
        try:
            _follow()
        except httpx.HTTPError:
            return  # the server stopped at the end of the run

    def _follow() -> None:
        with httpx.stream("GET", f"{url}/api/v1/stream", headers=headers, timeout=None) as answer:
            event = None
            for line in answer.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "fills":
                    for f in json.loads(line[6:])["data"]:
                        seen.setdefault(str(f["command_id"]), time.perf_counter())
                if len(seen) >= fills + 100:
                    return

    threading.Thread(target=follow, daemon=True).start()
    ready.wait(10)
    time.sleep(1.0)
    out = []
    for n in range(1000, 1000 + fills):
        committed = time.perf_counter()
        seed_trade(database_url, n=n, symbol=f"X{n}/USDT:USDT")
        deadline = time.monotonic() + 5
        while f"cmd-{n}" not in seen and time.monotonic() < deadline:
            time.sleep(0.005)
        if f"cmd-{n}" in seen:
            out.append(seen[f"cmd-{n}"] - committed)
        time.sleep(0.3)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fills", type=int, default=40)
    args = parser.parse_args(argv)
    with embedded_servers("bench-api-", broker=False) as servers:
        url = servers.database("bench_api")
        with served_api(url, servers.root / "api.log") as api:
            for n in range(1, 101):
                seed_trade(url, n=n, symbol=f"S{n}/USDT:USDT")
            headers = api.login("viewer")
            print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
            latencies, errors, sustained = asyncio.run(reads(api.url, headers, args.rate, args.seconds))
            ms = [x * 1000 for x in latencies]
            print(
                f"reads: {len(ms)} requests at {args.rate:.0f}/s for {args.seconds:.0f} s, errors {errors}, "
                f"sustained {sustained:.0f}/s; "
                f"p50 {pct(ms, 0.5):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
                f"max {max(ms):.1f} ms"
            )
            lags = [x * 1000 for x in stream_latency(api.url, url, headers, args.fills)]
            if lags:
                print(
                    f"fill -> stream: {len(lags)}/{args.fills} delivered; p50 {pct(lags, 0.5):.0f} ms, "
                    f"p95 {pct(lags, 0.95):.0f} ms, max {max(lags):.0f} ms"
                )
            print(f"load after: {os.getloadavg()}")
    return 0
