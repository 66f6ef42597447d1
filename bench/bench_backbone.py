"""Backbone benchmark (issue 2): throughput of one function process through the whole
runtime over HTTP, next to a no-op func-python function in the same run; the in-process
path (single and batched); end-to-end latency quote on the raw topic -> trade result.

Run: ``make bench ARGS=backbone`` (or ``python -m bench backbone``). Starts its own
embedded Postgres and Tansu in a temporary folder.

``BENCH_E2E_RATES=10,20,40`` sweeps the end-to-end run over several offered rates (one set
of processes, one rate after the other) to find where the local pipeline saturates;
``BENCH_E2E_ONLY=1`` skips the throughput phases.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaProducer
from kairos.bus.kafka import ensure_catalog_topics, ensure_topics, make_producer
from kairos.catalog import load_catalog
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import to_cloudevent, to_kafka
from kairos.contracts.envelope import Envelope
from kairos.delivery.kafka_source import KafkaSourceDelivery, KafkaSourceSpec
from kairos.delivery.wiring import kafka_source_specs
from kairos.localinfra.ports import free_port, wait_for_port
from kairos.runtime.loader import load_func_module
from kairos_testkit.events import quote_event
from kairos_testkit.functions import runtime_env
from kairos_testkit.servers import embedded_servers

HERE = Path(__file__).resolve().parent
POLICY = DeliveryPolicy(retry=5, backoff_policy="exponential", backoff_delay="PT0.2S", timeout="PT10S")


def quote(i: int, tag: str) -> Envelope[Any]:
    return quote_event(f"{tag}-{i}", subscription="bench", exact_amount_in=str((1 + i % 50) * 10**23))


def produce(bootstrap: str, topic: str, events) -> None:
    producer = make_producer(bootstrap)
    for e in events:
        rec = to_kafka(e)
        producer.send(topic, key=rec.key, value=rec.value, headers=list(rec.headers))
    producer.flush()
    producer.close()


def serve(target: str, env: dict[str, str], logs: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "kairos.cli", "serve", target]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env, "LISTEN_ADDRESS": f"127.0.0.1:{port}"},
        stdout=(logs / f"{Path(target).name}.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port("127.0.0.1", port, 30)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/readiness", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def delivery_throughput(bootstrap: str, topic: str, sink: str, n: int, tag: str) -> float:
    """Events/s of one KafkaSource (unordered, like normalize's) into ``sink``."""
    spec = KafkaSourceSpec(
        name=f"bench-{tag}",
        topic=topic,
        consumer_group=f"bench-{tag}",
        sink_url=sink,
        policy=POLICY,
        ordering="unordered",
        dead_letter_topic=None,
    )
    delivery = KafkaSourceDelivery(spec, bootstrap, profile="tansu")
    produce(bootstrap, topic, [quote(i, tag) for i in range(n)])
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    while delivery.stats.delivered < 1:
        time.sleep(0.001)
    start, first = time.perf_counter(), delivery.stats.delivered
    while delivery.stats.delivered < n:
        time.sleep(0.005)
    rate = (n - first) / (time.perf_counter() - start)
    delivery.stop.set()
    thread.join(10)
    return rate


def in_process(env: dict[str, str], n: int, batch: int) -> float:
    fn = load_func_module("normalize-near-intents").new()
    fn.start(env)
    fn.wait_ready(60)
    events = [to_cloudevent(quote(i, f"inproc{batch}")) for i in range(n)]
    start = time.perf_counter()
    if batch == 1:
        for ce in events:
            fn.process(ce)
    else:
        for i in range(0, n, batch):
            fn.process_batch(events[i : i + batch])
    rate = n / (time.perf_counter() - start)
    fn.stop()
    return rate


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each group of processes (and their children)."""
    import psutil

    out: dict[str, float] = {}
    for name, pids in groups.items():
        total = 0.0
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                for p in [proc, *proc.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system
            except psutil.Error:
                continue
        out[name] = total
    return out


def postgres_pids(data_dir: Path) -> list[int]:
    import psutil
    from kairos.localinfra.postgres import postmaster_pid

    pid = postmaster_pid(data_dir)
    return [pid] if pid and psutil.pid_exists(pid) else []


def e2e_latency(
    env: dict[str, str],
    bootstrap: str,
    db: str,
    logs: Path,
    n: int,
    rates: list[float],
    infra: dict[str, list[int]] | None = None,
) -> tuple[list[float], dict[float, tuple[float, list[float], dict[str, float]]]]:
    """(first events after start, per offered rate: (rate achieved, ms from raw quote sent
    to trade result committed in sending order, CPU ms per quote of each process group))."""
    procs, sinks = [], {}
    for name in ("normalize-near-intents", "reactor", "executor", "trade-results"):
        proc, url = serve(name, {**env, **load_catalog().function(name).env}, logs)
        procs.append(proc)
        sinks[name] = url
    deliveries = [KafkaSourceDelivery(s, bootstrap, profile="tansu") for s in kafka_source_specs(load_catalog(), sinks)]
    threads = [threading.Thread(target=d.run, daemon=True) for d in deliveries]
    for t in threads:
        t.start()
    time.sleep(3)  # let every consumer group settle before measuring
    producer = make_producer(bootstrap)
    try:
        # The first events through a fresh process pay for connections, pool growth and
        # imports: send them apart and report them apart, so the steady state is measured.
        cold = _timed_quotes(producer, db, "e2e-warmup", WARMUP, rates[0])[1]
        groups = {name: [p.pid] for name, p in zip(sinks, procs, strict=True)}
        groups["deliveries+bench"] = [os.getpid()]
        groups.update(infra or {})
        steady = {}
        for rate in rates:
            before = cpu_seconds(groups)
            achieved, lat = _timed_quotes(producer, db, f"e2e-{rate:g}", n, rate)
            after = cpu_seconds(groups)
            per_quote = {k: (after[k] - before[k]) * 1000 / n for k in groups}
            steady[rate] = (achieved, lat, per_quote)
    finally:
        for d in deliveries:
            d.stop.set()
        for p in procs:
            p.terminate()
        producer.close()
    return cold, steady


WARMUP = 30


def _timed_quotes(producer: KafkaProducer, db: str, tag: str, n: int, rate: float) -> tuple[float, list[float]]:
    """Send ``n`` quotes paced at ``rate``/s; (rate achieved, ms from send to each trade
    result committed, in sending order)."""
    sent: dict[str, float] = {}
    started = time.monotonic()
    for i in range(n):
        ev = quote(i, tag)
        rec = to_kafka(ev)
        sent[ev.meta.id] = time.time()
        producer.send("raw.near_intents.quote", key=rec.key, value=rec.value, headers=list(rec.headers)).get(10)
        time.sleep(max(started + (i + 1) / rate - time.monotonic(), 0))  # paced, not slept: no drift
    achieved = n / (time.monotonic() - started)
    deadline = time.monotonic() + 120
    rows: list[tuple[str, datetime]] = []
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            rows = conn.execute("SELECT correlation_id, recorded_at FROM trade_results").fetchall()
        if sum(1 for cid, _ in rows if cid in sent) >= n:
            break
        time.sleep(0.2)
    done = {cid: rec for cid, rec in rows if cid in sent}
    return achieved, [(done[cid].timestamp() - at) * 1000 for cid, at in sent.items() if cid in done]


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] if len(values) > 1 else values[0]


def main(argv: list[str]) -> int:
    n = int(os.environ.get("BENCH_EVENTS", "3000"))
    with embedded_servers("kairos-bench-backbone-") as servers:
        ensure_catalog_topics(servers.bootstrap)
        ensure_topics(servers.bootstrap, [("bench.noop", 6, {})])
        env = runtime_env(servers.url, servers.bootstrap)
        noop_rate = norm_rate = single = batched = 0.0
        if not os.environ.get("BENCH_E2E_ONLY"):
            noop, noop_url = serve(str(HERE / "noop_function"), env, servers.root)
            norm, norm_url = serve("normalize-near-intents", env, servers.root)
            noop_rate = delivery_throughput(servers.bootstrap, "bench.noop", noop_url, n, "noop")
            norm_rate = delivery_throughput(servers.bootstrap, "raw.near_intents.quote", norm_url, n, "normalize")
            noop.terminate()
            norm.terminate()
            single = in_process(env, min(n, 2000), 1)
            batched = in_process(env, n, 100)
        # A fresh broker and database: the latency run must not queue behind earlier phases.
        bootstrap = servers.restart_broker()
        ensure_catalog_topics(bootstrap)
        e2e_db = servers.database("bench_e2e")
        e2e_env = runtime_env(e2e_db, bootstrap)
        quotes = int(os.environ.get("BENCH_E2E", "300"))
        rates = [float(r) for r in os.environ.get("BENCH_E2E_RATES", "30").split(",")]
        assert servers.broker is not None
        infra = {"postgres": postgres_pids(servers.postgres.data_dir), "tansu": [servers.broker.process.pid]}
        cold, runs = e2e_latency(e2e_env, bootstrap, e2e_db, servers.root, quotes, rates, infra)
    if noop_rate:
        print(f"HTTP path, no-op func-python function via local KafkaSource: {noop_rate:8.0f} events/s")
        print(
            f"HTTP path, normalize-near-intents (inbox+outbox+commit+publish): {norm_rate:8.0f} events/s "
            f"({norm_rate / noop_rate:.2f} x no-op)"
        )
        print(f"in-process, one transaction per event:   {single:8.0f} events/s")
        print(f"in-process, batches of 100 (process_batch): {batched:8.0f} events/s")
    if cold:
        print(f"end-to-end, first {len(cold)} quotes after start: p50 {pct(cold, 50):.1f} ms, max {max(cold):.1f} ms")
    for rate, (achieved, lat, per_quote) in runs.items():
        if not lat:
            print(f"end-to-end at {rate:g}/s: no trade result")
            continue
        tail = lat[-max(len(lat) // 10, 1) :]  # the last tenth sent: a growing queue shows here
        print(
            f"end-to-end raw quote -> trade result committed ({len(lat)} quotes offered at {rate:g}/s, "
            f"sent at {achieved:.1f}/s): p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
            f"max {max(lat):.1f} ms; last tenth p50 {pct(tail, 50):.1f} ms"
        )
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_quote.items(), key=lambda kv: -kv[1]))
        print(f"  CPU ms per quote (incl. waiting for the last results): {sum(per_quote.values()):.1f} = {cpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
