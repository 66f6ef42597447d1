"""Bad input through the real path: served function + local KafkaSource + dead-letter topic."""

from __future__ import annotations

import base64
import json
import threading

import psycopg
from kairos.bus.kafka import make_producer, send_records
from kairos.catalog import load_catalog
from kairos.contracts.codec import KafkaRecord, to_kafka
from kairos.delivery.kafka_source import KafkaSourceDelivery
from kairos.delivery.wiring import kafka_source_specs
from kairos_testkit.events import quote_event
from kairos_testkit.functions import runtime_env, served
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.waiting import wait_until


def test_bad_events_are_dead_lettered_with_reason_and_the_partition_keeps_flowing(
    database_url, kafka_bootstrap, tmp_path
):
    create_topics(kafka_bootstrap)
    good_before, good_after = quote_event("dl-good-1"), quote_event("dl-good-2")
    malformed = quote_event("dl-bad", exact_amount_in="12abc")
    wrong_version = quote_event("dl-v9").with_meta(schema_version=9)
    wrong_type = quote_event("dl-type").with_meta(type="kairos.norm.swap_demand")
    oversized = quote_event("dl-big", padding="x" * 100_000)  # above the limit set below
    records = [to_kafka(e) for e in (good_before, malformed, wrong_version, wrong_type, oversized)]
    records.append(KafkaRecord(key=b"dl-plain", value=b"not a cloudevent", headers=()))
    records.append(to_kafka(good_after))
    # one key -> one partition: the good event after the bad ones proves the partition keeps flowing
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [("raw.near_intents.quote", KafkaRecord(b"same", r.value, r.headers)) for r in records])
    producer.close()
    env = runtime_env(database_url, kafka_bootstrap, KAIROS_MAX_EVENT_BYTES="65536")
    with served("normalize-near-intents", env, tmp_path) as fn:
        [spec] = kafka_source_specs(load_catalog(), {"normalize-near-intents": fn.url})
        delivery = KafkaSourceDelivery(spec, kafka_bootstrap, profile="tansu")
        thread = threading.Thread(target=delivery.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: delivery.stats.delivered == 2 and delivery.stats.dead_lettered == 5, timeout=60)
        finally:
            delivery.stop.set()
            thread.join(10)
    dead = read_topic(kafka_bootstrap, "dlq.normalize-near-intents", 5)
    assert len(dead) == 5
    reasons = {}
    for rec in dead:
        headers = dict(rec.headers)
        assert headers["ce_knativeerrordest"].decode() == fn.url
        body = json.loads(base64.b64decode(headers["ce_knativeerrordata"]))
        reasons[headers["ce_id"].decode()] = (int(headers["ce_knativeerrorcode"]), body["error"]["code"])
    assert reasons[malformed.meta.id] == (400, "invalid_event")
    assert reasons[wrong_version.meta.id] == (400, "unsupported_schema_version")
    assert reasons[wrong_type.meta.id] == (400, "unexpected_event_type")
    assert reasons[oversized.meta.id][0] == 413
    assert any(code == "unexpected_event_type" for key, (_, code) in reasons.items() if key.startswith("partition:"))
    demands = record_envelopes(read_topic(kafka_bootstrap, "norm.swap_demand", 2))
    assert sorted(d.data.quote_id for d in demands) == ["dl-good-1", "dl-good-2"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM inbox").fetchone() == (2,), "refused events change nothing"
