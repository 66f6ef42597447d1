"""The NEAR Intents ingest against the local fake solver bus, through a real broker."""

from __future__ import annotations

import asyncio
import threading

from kairos.bus.kafka import ensure_catalog_topics
from kairos.bus.sinks import KafkaSink
from kairos.venues.near_intents.fake_bus import FakeSolverBus
from kairos.venues.near_intents.ingest import NearIntentsIngest
from kairos_testkit.topics import read_topic, record_envelopes
from kairos_testkit.waiting import wait_until


def run_ingest(ingest: NearIntentsIngest) -> tuple[asyncio.AbstractEventLoop, asyncio.Event, threading.Thread]:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def runner() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(ingest.run(stop))

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    return loop, stop, thread


def test_ingest_survives_dropped_connection_and_loses_no_quote_sent_after_resubscribe(kafka_bootstrap):
    ensure_catalog_topics(kafka_bootstrap)
    bus = FakeSolverBus(rate=200, seed=11, total=60, drop_after=20, drop_times=2)
    url = bus.start()
    sink = KafkaSink(kafka_bootstrap, "raw.near_intents.quote", client_id="test-ingest")
    ingest = NearIntentsIngest(url, sink, max_backoff=0.5)
    loop, stop, thread = run_ingest(ingest)
    try:
        wait_until(lambda: len(bus.sent) == 60, timeout=30, message="bus sent 60 quotes")
        wait_until(lambda: ingest.published >= 60, timeout=30, message="ingest published 60 quotes")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        sink.flush()
        bus.stop()
    assert bus.connections == 3 and ingest.reconnects >= 2, "two drops, two resubscriptions"
    events = record_envelopes(read_topic(kafka_bootstrap, "raw.near_intents.quote", 60))
    published_ids = [e.data.message["params"]["quote_id"] for e in events]
    assert sorted(published_ids) == sorted(bus.sent), "every quote the bus sent is on the raw topic, once"
    raw = events[0]
    assert raw.meta.venue == "near_intents" and raw.data.message["jsonrpc"] == "2.0", "venue payload untouched"
    assert raw.meta.partition_key == raw.data.message["params"]["quote_id"]
