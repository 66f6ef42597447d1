"""Execution service benchmark (issue 5), against the simulator through real ccxt.

1. handler path: commands/s of one executor process (in process, 16 concurrent deliveries
   as the catalog's concurrency allows) and the latency of each ``process()`` call;
2. topic -> venue acknowledgement: commands produced to ``cmd.execute_trade``, delivered by
   the local KafkaSource to a served executor (HTTP), p50/p99 from the command's time to
   the order event that recorded the venue's answer;
3. reconciliation of N open orders (default 10,000) in one run.

Run: ``python -m bench executor [--commands 2000] [--open 10000]``. Starts its own embedded
Postgres, Tansu and simulator (no injected latency: add the simulator's configured latency
to the targets when you set one).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from kairos.bus.kafka import ensure_catalog_topics, make_producer, send_records
from kairos.catalog import load_catalog
from kairos.contracts.codec import to_cloudevent, to_kafka
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import new_event
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.execution import accounts
from kairos.execution.vault import Credentials, KeyVault, generate_kek
from kairos.execution.wiring import ExecutionRuntime
from kairos.localinfra.ports import free_port, wait_for_port
from kairos.runtime.db import migrate
from kairos.runtime.loader import load_func_module
from kairos_testkit import risk
from kairos_testkit.functions import runtime_env
from kairos_testkit.servers import embedded_servers
from kairos_testkit.venue_sim import ControlClient

from bench import postgres_cpu

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
QTY = {"BTC/USDT:USDT": Decimal("0.003"), "ETH/USDT:USDT": Decimal("0.020")}
LIMIT = {"BTC/USDT:USDT": Decimal("40000"), "ETH/USDT:USDT": Decimal("2000")}
KEK = generate_kek("bench")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# The database of setup(): every entry built by cmd() carries the risk guardian's approval
# there, as it would in production (the executor refuses unapproved entries).
_approvals_db: str | None = None


def cmd(i: int, tag: str, account: str, *, resting: bool = False) -> Any:
    symbol = SYMBOLS[i % 2]
    data = ExecuteTrade(
        command_id=f"{tag}-{i:07d}",
        account=account,
        venue="binanceusdm",
        symbol=symbol,
        side="buy" if resting or i % 4 < 2 else "sell",
        order_type="limit" if resting else "market",
        quantity=QTY[symbol],
        limit_price=LIMIT[symbol] if resting else None,
        strategy_id="bench",
    )
    if _approvals_db is not None:
        risk.approve(_approvals_db, data)
    return new_event(data, source="/bench", partition_key=f"{account}|{symbol}")


def setup(url: str, sim: Any, n_accounts: int) -> list[str]:
    global _approvals_db
    migrate(url)
    _approvals_db = url
    vault = KeyVault.from_env({"KAIROS_EXCHANGE_KEK": KEK})
    names = []
    with psycopg.connect(url, autocommit=True) as conn:
        for a in range(n_accounts):
            key, secret = f"bench-key-{a}", f"bench-secret-{a}"
            if a:
                sim.control.add_account(key, secret, "10000000")
            else:
                key, secret = sim.api_key, sim.secret
            accounts.register(
                conn,
                vault,
                f"bench-{a}",
                venue="binanceusdm",
                mode="live",
                base_url=sim.base_url,
                creds=Credentials(key, secret),
            )
            names.append(f"bench-{a}")
    return names


def handler_path(env: dict[str, str], names: list[str], n: int) -> None:
    fn = load_func_module("executor").new()
    fn.start(env)
    fn.wait_ready(60)
    events = [cmd(i, "h", names[i % len(names)]) for i in range(n)]
    for e in events[:50]:  # warm-up: markets loaded, connections open
        fn.process(to_cloudevent(e))
    lat: list[float] = []
    lock = threading.Lock()

    def one(e: Any) -> None:
        t0 = time.perf_counter()
        outcome = fn.process(to_cloudevent(e))
        dt = time.perf_counter() - t0
        assert outcome.status == 204, outcome
        with lock:
            lat.append(dt * 1000)

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        server = postgres_cpu.server_pid(conn)
    t0, cpu0, pg0 = time.perf_counter(), time.process_time(), postgres_cpu.server_cpu_s(server)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, events[50:]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pg = postgres_cpu.server_cpu_s(server) - pg0
    fn.stop()
    print(
        f"handler path: {len(lat)} market commands, 16 concurrent, {len(lat) / wall:.0f} commands/s; "
        f"process() p50 {pct(lat, 0.5):.1f} ms p99 {pct(lat, 0.99):.1f} ms; executor CPU "
        f"{cpu / len(lat) * 1000:.1f} ms, Postgres CPU {pg / len(lat) * 1000:.1f} ms per command; "
        f"load avg {os.getloadavg()[0]:.1f}"
    )


def topic_to_ack(
    url: str, bootstrap: str, env: dict[str, str], names: list[str], n: int, tmp: Path, rate: float
) -> None:
    """Two phases through KafkaSource + HTTP: paced at ``rate``/s (latency without queueing),
    then a burst of ``n`` (throughput; its latency is mostly time spent queued)."""
    from kairos_testkit.functions import start_function, stop_process

    fn = start_function("executor", env, tmp)
    deliveries = [
        KafkaSourceDelivery(s, bootstrap, profile="tansu")
        for s in kafka_source_specs(load_catalog(), {"executor": fn.url}, only={"executor"})
    ]
    threads = [threading.Thread(target=d.run, daemon=True) for d in deliveries]
    for t in threads:
        t.start()
    producer = make_producer(bootstrap)

    def acked(tag: str) -> int:
        with psycopg.connect(url) as conn:
            r = conn.execute(
                "SELECT count(*) FROM orders WHERE command_id LIKE %s AND state = 'FILLED'", (f"{tag}-%",)
            ).fetchone()
        return int(r[0]) if r else 0

    def latencies(tag: str, events: list[Any]) -> list[float]:
        with psycopg.connect(url) as conn:
            acks: dict[str, Any] = dict(
                conn.execute(
                    "SELECT o.command_id, min(e.at) FROM orders o JOIN order_events e ON e.order_id = o.id"
                    " WHERE o.command_id LIKE %s AND e.trigger IN ('ACCEPT','FILL','PARTIAL_FILL','REJECT')"
                    " GROUP BY o.command_id",
                    (f"{tag}-%",),
                ).fetchall()
            )
        return [
            (acks[e.data.command_id] - e.meta.time).total_seconds() * 1000 for e in events if e.data.command_id in acks
        ]

    warm = [cmd(i, "tw", names[i % len(names)]) for i in range(20)]  # consumer groups joined, markets loaded
    send_records(producer, [("cmd.execute_trade", to_kafka(e)) for e in warm])
    deadline = time.perf_counter() + 60
    while acked("tw") < len(warm) and time.perf_counter() < deadline:
        time.sleep(0.2)
    paced = [cmd(i, "tp", names[i % len(names)]) for i in range(min(n, 300))]
    start = time.perf_counter()
    for i, e in enumerate(paced):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        e = new_event(e.data, source="/bench", partition_key=e.meta.partition_key)  # time = now
        paced[i] = e
        send_records(producer, [("cmd.execute_trade", to_kafka(e))])
    while acked("tp") < len(paced) and time.perf_counter() - start < 120:
        time.sleep(0.2)
    lat = latencies("tp", paced)
    print(
        f"topic -> venue ack, paced {rate:.0f}/s: {len(lat)}/{len(paced)} commands; "
        f"p50 {pct(lat, 0.5):.1f} ms p99 {pct(lat, 0.99):.1f} ms (KafkaSource + HTTP + executor + venue)"
    )

    burst = [cmd(i, "tb", names[i % len(names)]) for i in range(n)]
    t0 = time.perf_counter()
    send_records(producer, [("cmd.execute_trade", to_kafka(e)) for e in burst])
    while acked("tb") < n and time.perf_counter() - t0 < 300:
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    lat = latencies("tb", burst)
    for d in deliveries:
        d.stop.set()
    stop_process(fn.process)
    print(
        f"topic -> venue ack, burst: {len(lat)}/{n} commands over {len(names)} accounts x 2 symbols in {wall:.1f}s "
        f"= {len(lat) / wall:.0f} commands/s; p50 {pct(lat, 0.5):.0f} ms p99 {pct(lat, 0.99):.0f} ms (queued)"
    )


def reconciliation(env: dict[str, str], names: list[str], n_open: int) -> None:
    if n_open <= 0:
        return
    rt = ExecutionRuntime.from_env(env, "reconciler")
    events = [cmd(i, "r", names[i % len(names)], resting=True) for i in range(n_open)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda e: rt.service.execute(e.data, e), events))
    placed = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = rt.reconciler.run()
    took = time.perf_counter() - t0
    rt.close()
    print(
        f"reconciliation: placed {n_open} resting orders in {placed:.1f}s ({n_open / placed:.0f}/s); one run checked "
        f"{report.checked} in {took:.1f}s ({report.checked / took:.0f} orders/s, 8 workers), "
        f"corrected {report.corrected}, failures {report.query_failures}"
    )


class SimProcess:
    """The simulator in its own process: it must not share the executor's GIL."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_key, self.secret = "bench-key-0", "bench-secret-0"
        self.control = ControlClient(self.base_url)


@contextmanager
def venue_process(tmp: Path) -> Iterator[SimProcess]:
    port = free_port()
    log = (tmp / "venue-sim.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kairos.cli",
            "venue-sim",
            "--port",
            str(port),
            "--seed",
            "11",
            "--clock",
            "stepped",
            "--warmup-ticks",
            "5",
            "--api-key",
            "bench-key-0",
            "--api-secret",
            "bench-secret-0",
            "--balance",
            "100000000",
            "--log-level",
            "WARNING",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield SimProcess(port)
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench executor")
    p.add_argument("--commands", type=int, default=2000)
    p.add_argument("--open", type=int, default=10000)
    p.add_argument("--accounts", type=int, default=4)
    p.add_argument("--rate", type=float, default=20.0, help="paced phase: commands per second")
    args = p.parse_args(argv)
    with embedded_servers("kairos-bench-exec-") as servers:
        ensure_catalog_topics(servers.bootstrap)
        with venue_process(servers.root) as sim:
            sim.control.set_price("BTCUSDT", "60000")
            sim.control.set_price("ETHUSDT", "3000")
            names = setup(servers.url, sim, args.accounts)
            env = runtime_env(servers.url, servers.bootstrap, KAIROS_EXCHANGE_KEK=KEK, KAIROS_EXEC_DB_POOL_SIZE="40")
            handler_path(env, names, args.commands)
            topic_to_ack(servers.url, servers.bootstrap, env, names, args.commands, servers.root, args.rate)
            reconciliation(env, names, args.open)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
