"""A delivery survives any record a Kafka client can write: what cannot become a CloudEvent
is dead-lettered with its reason, an oversized record ends on the dead-letter topic, a
dead delivery thread is restarted and counted, and the partition always moves on."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import pytest
from kafka import KafkaProducer
from kairos.bus.kafka import ensure_topics
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import KafkaRecord, to_http_structured, to_kafka
from kairos.contracts.envelope import new_event
from kairos.contracts.ops import Alert
from kairos.delivery import cli
from kairos.delivery.kafka_source import KafkaSourceDelivery, KafkaSourceSpec
from kairos_testkit.http_sink import ScriptedSink
from kairos_testkit.topics import read_topic
from kairos_testkit.waiting import wait_until

FAST = DeliveryPolicy(retry=1, backoff_policy="linear", backoff_delay="PT0.05S", timeout="PT5S")


def alert(i: int, message: str = ""):
    data = Alert(severity="info", code=f"c{i}", message=message or str(i), component="test")
    return new_event(data, source="/test", partition_key="one-key")


@pytest.fixture
def topic(kafka_bootstrap):
    name = f"poison.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [(name, 1, {}), (f"{name}.dlq", 1, {})])
    return name


def foreign_producer(bootstrap: str) -> KafkaProducer:
    """Another team's client: its own settings, large records allowed."""
    return KafkaProducer(bootstrap_servers=bootstrap.split(","), max_request_size=4 * 1_048_576, acks="all")


def produce(bootstrap: str, topic: str, records: list[KafkaRecord]) -> None:
    producer = foreign_producer(bootstrap)
    for rec in records:
        producer.send(topic, key=b"one-key", value=rec.value, headers=list(rec.headers))
    producer.flush(30)
    producer.close()


def delivery_for(bootstrap: str, topic: str, sink: ScriptedSink, **kwargs) -> KafkaSourceDelivery:
    spec = KafkaSourceSpec(
        name=f"{topic}-src",
        topic=topic,
        consumer_group=f"g-{topic}",
        sink_url=sink.url,
        policy=FAST,
        ordering="ordered",
        dead_letter_topic=f"{topic}.dlq",
    )
    return KafkaSourceDelivery(spec, bootstrap, profile="tansu", **kwargs)


def without(rec: KafkaRecord, header: str) -> KafkaRecord:
    return KafkaRecord(rec.key, rec.value, tuple((k, v) for k, v in rec.headers if k != header))


def error_of(dead) -> tuple[int, dict]:
    headers = dict(dead.headers)
    body = json.loads(base64.b64decode(headers["ce_knativeerrordata"]))
    return int(headers["ce_knativeerrorcode"]), body["error"]


def test_records_that_are_not_valid_cloudevents_are_dead_lettered_and_the_partition_moves_on(kafka_bootstrap, topic):
    first, last = alert(1), alert(2)
    structured = to_http_structured(alert(3))[1]
    bad = {
        "batch": KafkaRecord(
            None, b"[" + structured + b"]", (("content-type", b"application/cloudevents-batch+json"),)
        ),
        "json string": KafkaRecord(None, b'"hello"', (("content-type", b"application/cloudevents+json"),)),
        "no id": without(to_kafka(alert(4)), "ce_id"),
        "no specversion": without(to_kafka(alert(5)), "ce_specversion"),
        "not utf-8": KafkaRecord(None, b"{}", (*to_kafka(alert(6)).headers, ("ce_subject", b"caf\xe9"))),
    }
    produce(kafka_bootstrap, topic, [to_kafka(first), *bad.values(), to_kafka(last)])
    sink = ScriptedSink()
    delivery = delivery_for(kafka_bootstrap, topic, sink)
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: delivery.stats.delivered == 2 and delivery.stats.dead_lettered == len(bad),
            timeout=60,
        )
        assert thread.is_alive()
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sink.ids() == [first.meta.id, last.meta.id]  # nothing with an invented id was POSTed
    dead = read_topic(kafka_bootstrap, f"{topic}.dlq", len(bad))
    errors = [error_of(d) for d in dead]
    assert [status for status, _ in errors] == [400] * len(bad)
    assert [e["code"] for _, e in errors] == [
        "malformed_event",
        "malformed_event",
        "missing_attribute",
        "missing_attribute",
        "invalid_attribute",
    ]
    assert [e.get("attribute") for _, e in errors[2:]] == ["id", "specversion", "subject"]
    assert all(dict(d.headers)["ce_type"] == b"dev.knative.kafka.event" for d in dead)  # wrapped, offset as id


def test_an_oversized_record_ends_on_the_dead_letter_topic_and_the_partition_moves_on(kafka_bootstrap, topic):
    big, after = alert(1, message="x" * 1_300_000), alert(2)  # above 1 MiB: kafka-python's default request size
    produce(kafka_bootstrap, topic, [to_kafka(big), to_kafka(after)])
    too_large = b'{"error":{"code":"event_too_large","reason":"big"}}'
    sink = ScriptedSink(lambda n, h, b: (413, too_large, 0) if len(b) > 1e6 else (204, b"", 0))
    delivery = delivery_for(kafka_bootstrap, topic, sink)
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: delivery.stats.delivered == 1 and delivery.stats.dead_lettered == 1, timeout=40)
    finally:
        delivery.stop.set()
        thread.join(10)
    [dead] = read_topic(kafka_bootstrap, f"{topic}.dlq", 1)
    assert dict(dead.headers)["ce_id"].decode() == big.meta.id
    assert error_of(dead)[0] == 413 and len(dead.value) > 1_300_000  # whole: it fits the record limit


def test_a_dead_letter_too_big_for_the_record_limit_is_sent_truncated_with_its_metadata(kafka_bootstrap, topic):
    big, after = alert(1, message="y" * 400_000), alert(2)
    produce(kafka_bootstrap, topic, [to_kafka(big), to_kafka(after)])
    sink = ScriptedSink(lambda n, h, b: (413, b"{}", 0) if len(b) > 300_000 else (204, b"", 0))
    delivery = delivery_for(kafka_bootstrap, topic, sink, max_record_bytes=300_000)
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: delivery.stats.delivered == 1 and delivery.stats.dead_lettered == 1, timeout=40)
    finally:
        delivery.stop.set()
        thread.join(10)
    [dead] = read_topic(kafka_bootstrap, f"{topic}.dlq", 1)
    headers = dict(dead.headers)
    assert headers["ce_id"].decode() == big.meta.id and headers["ce_knativeerrorcode"] == b"413"
    assert int(headers["ce_kairostruncated"]) > 400_000 and len(dead.value) < 300_000


def test_a_delivery_thread_that_dies_is_restarted_and_reported(kafka_bootstrap, topic, monkeypatch):
    events = [alert(i) for i in range(6)]
    produce(kafka_bootstrap, topic, [to_kafka(e) for e in events])
    sink = ScriptedSink()
    delivery = delivery_for(kafka_bootstrap, topic, sink)
    real_commit = delivery._commit
    calls = {"n": 0}

    def failing_once(consumer, offsets):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected: the consumer loop broke")
        real_commit(consumer, offsets)

    monkeypatch.setattr(delivery, "_commit", failing_once)
    monkeypatch.setattr(cli, "RESTART_PAUSE_SECONDS", 0.1)
    threads = [cli.start(delivery)]
    try:
        deadline = time.monotonic() + 40
        while not (delivery.stats.restarts == 1 and delivery.stats.lag() == {f"{topic}:0": 0}):
            assert time.monotonic() < deadline, delivery.stats.snapshot()
            cli.restart_dead([delivery], threads)
            time.sleep(0.1)
    finally:
        delivery.stop.set()
        threads[0].join(10)
    assert "injected" in delivery.stats.last_error
    assert set(sink.ids()) == {e.meta.id for e in events}  # redelivered after the restart, none lost
