"""Fill -> PnL through the whole path: the executor's fill event to the portfolio's ledger row.

Per fill, the clock starts when the executor has the fill in hand, and stops when the
portfolio's ledger row for it is committed and readable by another connection. In between,
every hop the platform runs:

1. the executor's side: ``exec.fill`` appended to the outbox in its own transaction, committed,
   then handed to the runtime's ``OutboxPublisher`` (a Kafka producer, acks=all) as the
   executor does after each commit;
2. the broker (embedded Tansu), partition by ``account|symbol``;
3. the local KafkaSource delivery (``kairos.delivery``, the ``portfolio`` subscription's spec
   from the catalog: ordered, its retry policy) POSTing a binary CloudEvent over HTTP;
4. ``kairos serve portfolio`` (func-python, a separate process): inbox claim, positions
   projection, ``ledger.apply_fill``, outbox, commit.

Fills are sent one at a time at ``--rate`` per second (each waits for its row, so the number
is the latency of one fill, not a queue). SHADOW fills on 20 accounts, one symbol, alternating
buy/sell so positions open, close and realize PnL.

Run: ``python -m bench fill_pnl [--fills 300] [--rate 20]``. Starts its own embedded Postgres
and Tansu; prints the load average before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from kairos.bus.kafka import ensure_catalog_topics, make_producer
from kairos.catalog import load_catalog
from kairos.contracts.envelope import new_event
from kairos.contracts.execution import OrderFill
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.runtime import recorder
from kairos.runtime.db import migrate
from kairos.runtime.publisher import OutboxPublisher
from kairos_testkit.functions import runtime_env, served
from kairos_testkit.servers import embedded_servers
from psycopg_pool import ConnectionPool

FUNCTION, TOPIC = "portfolio", "exec.fill"
ACCOUNTS = [f"bench-{i:02d}" for i in range(20)]
SYMBOL = "BTC/USDT:USDT"
D = Decimal


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def fill(i: int) -> OrderFill:
    account = ACCOUNTS[i % len(ACCOUNTS)]
    side = "buy" if (i // len(ACCOUNTS)) % 2 == 0 else "sell"
    return OrderFill(command_id=f"bench-cmd-{i:06d}", client_order_id=f"b{i}", account=account, venue="binanceusdm",
                     symbol=SYMBOL, side=side, venue_trade_id=f"bt{i}", quantity=D("0.5"),  # type: ignore[arg-type]
                     price=D("100") + D(i % 7), fee=D("0.02"), fee_asset="USDT", traded_at=datetime.now(UTC),
                     mode="shadow")  # fmt: skip


def wait_for(predicate: Any, timeout: float, poll: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(poll)


def run(url: str, bootstrap: str, sink: str, n: int, rate: float) -> dict[str, float]:
    spec = next(s for s in kafka_source_specs(load_catalog(), {FUNCTION: sink}) if s.topic == TOPIC)
    delivery = KafkaSourceDelivery(spec, bootstrap, profile="tansu")
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    pool = ConnectionPool(url, min_size=1, max_size=2, open=True)
    publisher = OutboxPublisher(pool, make_producer(bootstrap, client_id="bench-executor"), "executor")
    lat: list[float] = []
    try:
        with psycopg.connect(url, autocommit=True) as reader:

            def landed(i: int) -> bool:
                q = "SELECT 1 FROM portfolio_fills WHERE venue_trade_id = %s"
                return reader.execute(q, (f"bt{i}",)).fetchone() is not None

            def one(i: int) -> float:
                f = fill(i)
                t0 = time.perf_counter()
                env = new_event(f, source="/executor", partition_key=f"{f.account}|{f.symbol}")
                with pool.connection() as conn, conn.transaction():
                    rows = recorder.append_outbox(conn, "executor", [(TOPIC, env)])
                publisher.submit(rows)
                wait_for(lambda: landed(i), 60)
                return time.perf_counter() - t0

            one(-1)  # the consumer group joined, the function warm
            for i in range(n):
                took = one(i)
                lat.append(took)
                time.sleep(max(0.0, 1 / rate - took))
    finally:
        publisher.close()
        pool.close()
        delivery.stop.set()
        thread.join(15)
    return {"fills": n, "p50_ms": round(pct(lat, 0.5) * 1000, 1), "p95_ms": round(pct(lat, 0.95) * 1000, 1),
            "p99_ms": round(pct(lat, 0.99) * 1000, 1), "max_ms": round(max(lat) * 1000, 1)}  # fmt: skip


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench fill_pnl")
    ap.add_argument("--fills", type=int, default=300)
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args(argv)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    with embedded_servers("kairos-bench-fill-pnl-") as servers:
        ensure_catalog_topics(servers.bootstrap)
        migrate(servers.url)
        with served(FUNCTION, runtime_env(servers.url, servers.bootstrap), servers.root) as fn:
            result = run(servers.url, servers.bootstrap, fn.url, args.fills, args.rate)
            print("fill->pnl through broker+delivery", result, flush=True)
    print(f"load average {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
