"""The local KafkaSource behaves like Knative's: order, retries, dead letters, commits."""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime
from typing import cast

import pytest
from kairos.bus.kafka import ensure_topics, make_producer, send_records
from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.codec import KafkaRecord, to_kafka
from kairos.contracts.envelope import new_event
from kairos.contracts.ops import Alert
from kairos.delivery.kafka_source import KafkaSourceDelivery, KafkaSourceSpec
from kairos.delivery.ping_source import PingSourceDelivery, PingSourceSpec
from kairos_testkit.http_sink import ScriptedSink
from kairos_testkit.topics import read_topic
from kairos_testkit.waiting import wait_until

FAST = DeliveryPolicy(retry=2, backoff_policy="linear", backoff_delay="PT0.05S", timeout="PT5S")


def alert(i: int, key: str = "k"):
    data = Alert(severity="info", code=f"c{i}", message=str(i), component="test")
    return new_event(data, source="/test", partition_key=key)


@pytest.fixture
def topic(kafka_bootstrap):
    name = f"test.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [(name, 3, {}), (f"{name}.dlq", 1, {})])
    return name


def run_delivery(
    bootstrap: str, topic: str, sink: ScriptedSink, ordering: str = "ordered", policy: DeliveryPolicy = FAST
) -> tuple[KafkaSourceDelivery, threading.Thread]:
    spec = KafkaSourceSpec(
        name=f"{topic}-src",
        topic=topic,
        consumer_group=f"g-{topic}",
        sink_url=sink.url,
        policy=policy,
        ordering=ordering,
        dead_letter_topic=f"{topic}.dlq",
    )
    delivery = KafkaSourceDelivery(spec, bootstrap, profile="tansu")
    thread = threading.Thread(target=delivery.run, daemon=True)
    thread.start()
    return delivery, thread


def produce(bootstrap: str, topic: str, events) -> None:
    producer = make_producer(bootstrap)
    send_records(producer, [(topic, to_kafka(e)) for e in events])
    producer.close()


def test_order_within_a_partition_holds(kafka_bootstrap, topic):
    events = [alert(i, key="same-key") for i in range(40)]
    sink = ScriptedSink(lambda n, h, b: (204, b"", 0.002 * (n % 3)))
    produce(kafka_bootstrap, topic, events)
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink)
    try:
        wait_until(lambda: len(sink.requests) >= 40, message="40 deliveries")
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sink.ids() == [e.meta.id for e in events]


def test_retryable_failure_is_retried_then_dead_lettered_with_knative_extensions(kafka_bootstrap, topic):
    bad, good = alert(1), alert(2)
    sink = ScriptedSink(lambda n, h, b: (500, b'{"error":"boom"}', 0) if h["ce-id"] == bad.meta.id else (204, b"", 0))
    produce(kafka_bootstrap, topic, [bad, good])
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink)
    try:
        wait_until(lambda: delivery.stats.dead_lettered == 1 and delivery.stats.delivered == 1)
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sink.ids().count(bad.meta.id) == 3, "first try + 2 retries"
    [dead] = read_topic(kafka_bootstrap, f"{topic}.dlq", 1)
    headers = dict(dead.headers)
    assert headers["ce_id"].decode() == bad.meta.id
    assert headers["ce_knativeerrorcode"] == b"500"
    assert base64.b64decode(headers["ce_knativeerrordata"]) == b'{"error":"boom"}'
    assert headers["ce_knativeerrordest"].decode() == sink.url
    assert dead.key == bad.meta.partition_key.encode()


@pytest.mark.parametrize("status", [400, 413, 422])
def test_permanent_4xx_is_dead_lettered_at_once_and_the_partition_keeps_flowing(kafka_bootstrap, topic, status):
    bad, after = alert(1), alert(2)
    sink = ScriptedSink(lambda n, h, b: (status, b"no", 0) if h["ce-id"] == bad.meta.id else (204, b"", 0))
    produce(kafka_bootstrap, topic, [bad, after])
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink)
    try:
        wait_until(lambda: delivery.stats.delivered == 1 and delivery.stats.dead_lettered == 1)
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sink.ids() == [bad.meta.id, after.meta.id]


@pytest.mark.parametrize("status", [404, 408, 409, 429, 503])
def test_knative_retryable_statuses_are_retried(kafka_bootstrap, topic, status):
    ev = alert(1)
    sink = ScriptedSink(lambda n, h, b: (status, b"", 0) if n == 1 else (204, b"", 0))
    produce(kafka_bootstrap, topic, [ev])
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink)
    try:
        wait_until(lambda: delivery.stats.delivered == 1)
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sink.ids() == [ev.meta.id, ev.meta.id] and delivery.stats.dead_lettered == 0


def test_non_cloudevent_record_is_wrapped(kafka_bootstrap, topic):
    producer = make_producer(kafka_bootstrap)
    send_records(producer, [(topic, KafkaRecord(key=b"k", value=b"plain bytes", headers=()))])
    producer.close()
    sink = ScriptedSink()
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink)
    try:
        wait_until(lambda: len(sink.requests) == 1)
    finally:
        delivery.stop.set()
        thread.join(10)
    headers, body = sink.requests[0]
    assert headers["ce-type"] == "dev.knative.kafka.event"
    assert headers["ce-id"].startswith("partition:") and "/offset:" in headers["ce-id"]
    assert headers["ce-partitionkey"] == "k" and body == b"plain bytes"


def test_unordered_delivery_delivers_everything_once_and_commits(kafka_bootstrap, topic):
    events = [alert(i, key=f"k{i}") for i in range(60)]
    sink = ScriptedSink(lambda n, h, b: (204, b"", 0.01))
    produce(kafka_bootstrap, topic, events)
    delivery, thread = run_delivery(kafka_bootstrap, topic, sink, ordering="unordered")
    try:
        wait_until(lambda: delivery.stats.delivered == 60)
        wait_until(lambda: sum(cast("dict[str, int]", delivery.stats.snapshot()["committed"]).values()) == 60,
                   message="commits")
    finally:
        delivery.stop.set()
        thread.join(10)
    assert sorted(sink.ids()) == sorted(e.meta.id for e in events)


def test_ping_tick_has_random_id_scheduled_time_and_gives_up_after_five_retries():
    sink = ScriptedSink(lambda n, h, b: (503, b"", 0))
    spec = PingSourceSpec(
        name="every-minute", schedule="* * * * *", timezone="UTC", sink_url=sink.url, data={"job": "x"}
    )
    quick = DeliveryPolicy(retry=5, backoff_policy="linear", backoff_delay="PT0.01S", timeout="PT5S")
    ping = PingSourceDelivery(spec, policy=quick)
    slot = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert ping.fire(slot) is False
    assert len(sink.requests) == 6 and ping.stats.failed == 1
    ok_sink = ScriptedSink()
    ping_ok = PingSourceDelivery(
        PingSourceSpec(name="p", schedule="* * * * *", timezone="UTC", sink_url=ok_sink.url, data={"job": "x"})
    )
    assert ping_ok.fire(slot) and ping_ok.fire(slot)
    (h1, b1), (h2, _) = ok_sink.requests
    assert h1["ce-id"] != h2["ce-id"], "every tick is a new event"
    assert h1["ce-time"].startswith("2026-11-23T10:00:00") and h1["ce-type"] == "dev.knative.sources.ping"
    assert b1 == b'{"job": "x"}' or b1 == b'{"job":"x"}'
