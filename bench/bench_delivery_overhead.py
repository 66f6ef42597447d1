"""What the local KafkaSource hop costs, next to calling the handler in-process.

Three ways to hand the same raw NEAR Intents quote to ``normalize-near-intents``:
1. in-process: ``KairosFunction.process(cloudevent)`` (no HTTP, no broker);
2. HTTP: a binary-mode POST to the function served by ``kairos serve`` (func-python);
3. KafkaSource hop: produce to ``raw.near_intents.quote`` (acks=all), the local
   KafkaSource consumes it and POSTs it to the same served function; the latency runs
   from the send until the delivery counted the event as delivered (its 2xx arrived).
Each is measured one event at a time (p50/p99 latency, sequential events/s); the hop is
also measured as a burst (N events produced at once, ordered delivery, 6 partitions).

Run: ``make bench ARGS=delivery_overhead`` (starts its own Postgres and Tansu).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid
from typing import Any

import httpx
from cloudevents.core.v1.event import CloudEvent
from kairos.bus.kafka import ensure_catalog_topics, make_producer, send_records
from kairos.catalog import load_catalog
from kairos.contracts.codec import cloudevent_to_http_binary, to_cloudevent, to_kafka
from kairos.contracts.envelope import Envelope
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.runtime.db import migrate
from kairos_testkit.events import quote_event
from kairos_testkit.functions import in_process, runtime_env, served
from kairos_testkit.servers import embedded_servers

FUNCTION = "normalize-near-intents"
TOPIC = "raw.near_intents.quote"
WARMUP = 20


def raw_quote(i: int) -> Envelope[Any]:
    return quote_event(str(uuid.uuid4()), subscription="bench", exact_amount_in=str((1 + i % 40) * 10**22))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def report(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    row = {
        "events_per_s": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
    }
    print(f"{name:<34} {row['events_per_s']:>9.0f} ev/s   p50 {row['p50_ms']:>7.2f} ms   p99 {row['p99_ms']:>7.2f} ms")
    return row


def handler_path(env: dict[str, str], n: int) -> dict[str, float]:
    with in_process(FUNCTION, env) as fn:
        for i in range(WARMUP):
            fn.process(to_cloudevent(raw_quote(i)))
        events: list[CloudEvent] = [to_cloudevent(raw_quote(i)) for i in range(n)]
        latencies = []
        started = time.perf_counter()
        for ce in events:
            t0 = time.perf_counter()
            outcome = fn.process(ce)
            latencies.append(time.perf_counter() - t0)
            assert outcome.status == 204, outcome
        return report("in-process handler", latencies, time.perf_counter() - started)


def over_http(url: str, n: int) -> dict[str, float]:
    requests = [cloudevent_to_http_binary(to_cloudevent(raw_quote(i))) for i in range(n)]
    latencies = []
    with httpx.Client() as client:
        for i in range(WARMUP):
            headers, body = cloudevent_to_http_binary(to_cloudevent(raw_quote(i)))
            client.post(url, headers=headers, content=body, timeout=10)
        started = time.perf_counter()
        for headers, body in requests:
            t0 = time.perf_counter()
            resp = client.post(url, headers=headers, content=body, timeout=10)
            latencies.append(time.perf_counter() - t0)
            assert resp.status_code == 204, resp.text
        return report("HTTP to kairos serve", latencies, time.perf_counter() - started)


def kafka_hop(bootstrap: str, url: str, n: int, burst: int) -> tuple[dict[str, float], float]:
    spec = next(s for s in kafka_source_specs(load_catalog(), {FUNCTION: url}) if s.topic == TOPIC)
    delivery = KafkaSourceDelivery(spec, bootstrap, profile="tansu")
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    producer = make_producer(bootstrap, client_id="bench-delivery")
    try:
        warm = delivery.stats.delivered
        send_records(producer, [(TOPIC, to_kafka(raw_quote(-1)))])
        wait_for(lambda: delivery.stats.delivered > warm, 60)  # group joined, first fetch done
        latencies = []
        started = time.perf_counter()
        for i in range(n):
            record = to_kafka(raw_quote(i))
            before = delivery.stats.delivered
            t0 = time.perf_counter()
            send_records(producer, [(TOPIC, record)])
            wait_for(lambda b=before: delivery.stats.delivered > b, 30)
            latencies.append(time.perf_counter() - t0)
        row = report("KafkaSource hop (produce->2xx)", latencies, time.perf_counter() - started)
        before = delivery.stats.delivered
        records = [(TOPIC, to_kafka(raw_quote(i))) for i in range(burst)]
        t0 = time.perf_counter()
        send_records(producer, records)
        wait_for(lambda: delivery.stats.delivered >= before + burst, 120)
        burst_rate = burst / (time.perf_counter() - t0)
        print(f"{'KafkaSource burst (ordered, 6 parts)':<34} {burst_rate:>9.0f} ev/s   ({burst} events)")
        return row, burst_rate
    finally:
        delivery.stop.set()
        thread.join(15)
        producer.close(timeout=5)


def wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(0.0005)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 300
    burst = int(argv[1]) if len(argv) > 1 else 1000
    with embedded_servers("kairos-bench-delivery-") as servers:
        ensure_catalog_topics(servers.bootstrap)
        migrate(servers.url)
        env = runtime_env(servers.url, servers.bootstrap)
        with served(FUNCTION, env, servers.root) as fn:
            print(
                f"{n} sequential events per path, then a burst of {burst}; function {FUNCTION}; {os.cpu_count()} CPUs"
            )
            base = handler_path(env, n)
            http = over_http(fn.url, n)
            hop, _burst = kafka_hop(servers.bootstrap, fn.url, n, burst)
            print(
                f"KafkaSource hop overhead over in-process: p50 {hop['p50_ms'] - base['p50_ms']:+.2f} ms, "
                f"p99 {hop['p99_ms'] - base['p99_ms']:+.2f} ms; of which HTTP+func-python p50 "
                f"{http['p50_ms'] - base['p50_ms']:+.2f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
