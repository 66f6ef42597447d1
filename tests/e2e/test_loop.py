"""The first loop end to end: fake solver bus -> ingest -> normalize -> reactor -> executor ->
trade-results, every function a real func-python process reached through the local
KafkaSource, on a real Postgres and broker."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from kairos.bus.sinks import KafkaSink
from kairos.catalog import load_catalog
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos.venues.near_intents.fake_bus import FakeSolverBus
from kairos.venues.near_intents.ingest import NearIntentsIngest
from kairos_testkit.functions import runtime_env, start_function, stop_process
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.waiting import wait_until

PIPELINE = ["normalize-near-intents", "reactor", "executor", "trade-results"]
N = 40


@pytest.mark.slow
def test_n_quotes_from_the_bus_become_exactly_n_trade_results(database_url, kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    env = runtime_env(database_url, kafka_bootstrap)
    functions = [start_function(name, env, tmp_path) for name in PIPELINE]
    sinks = {f.name: f.url for f in functions}
    deliveries = [
        KafkaSourceDelivery(spec, kafka_bootstrap, profile="tansu")
        for spec in kafka_source_specs(load_catalog(), sinks)
    ]
    threads = [threading.Thread(target=d.run, daemon=True) for d in deliveries]
    for t in threads:
        t.start()
    bus = FakeSolverBus(rate=100, seed=5, total=N)
    url = bus.start()
    sink = KafkaSink(kafka_bootstrap, "raw.near_intents.quote", client_id="test-ingest")
    ingest = NearIntentsIngest(url, sink)
    loop, stop = asyncio.new_event_loop(), asyncio.Event()
    ingest_thread = threading.Thread(target=lambda: loop.run_until_complete(ingest.run(stop)), daemon=True)
    ingest_thread.start()

    def results() -> int:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM trade_results").fetchone()
            return int(row[0]) if row else 0

    try:
        wait_until(lambda: results() >= N, timeout=90, message=f"{N} trade results")
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT correlation_id, status FROM trade_results").fetchall()
    finally:
        loop.call_soon_threadsafe(stop.set)
        ingest_thread.join(10)
        sink.close()
        bus.stop()
        for d in deliveries:
            d.stop.set()
        for t in threads:
            t.join(10)
        for f in functions:
            stop_process(f.process)
    assert len(rows) == N
    assert {status for _, status in rows} <= {"filled", "expired"}
    # every result traces back to the raw quote that caused it
    raws = record_envelopes(read_topic(kafka_bootstrap, "raw.near_intents.quote", N))
    assert {r.meta.correlation_id for r in raws} == {c for c, _ in rows}
    assert sum(d.stats.dead_lettered for d in deliveries) == 0
