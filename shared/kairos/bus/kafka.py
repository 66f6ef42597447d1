"""kafka-python clients configured for Kafka in production and Tansu locally.

Tansu (the embedded broker) needs short group timers and a short fetch wait, otherwise a
group join takes ~23 s and each hop gains ~130 ms. Those settings are a local profile,
chosen by ``KAIROS_KAFKA_PROFILE=tansu``; production keeps Kafka's defaults.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from kairos.contracts.codec import KafkaRecord
from kairos.contracts.limits import MAX_RECORD_BYTES
from kairos.errors import TransientError

log = logging.getLogger(__name__)

TANSU_CONSUMER_SETTINGS: dict[str, Any] = {
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 500,
    "fetch_max_wait_ms": 10,
}


def consumer_settings(profile: str) -> dict[str, Any]:
    return dict(TANSU_CONSUMER_SETTINGS) if profile == "tansu" else {}


def make_producer(bootstrap: str, *, client_id: str = "kairos", bulk: bool = False) -> KafkaProducer:
    """A producer that waits for all replicas and keeps per-partition order on retry.

    ``max_request_size`` is the broker's record limit (``kairos.contracts.limits``), not
    kafka-python's 1 MiB default, which is smaller than a largest event plus its headers.
    ``bulk``: for hundreds of records at a time (a replay), linger 10 ms to send full batches
    (with no linger kafka-python wakes its sender once per record) and allow larger requests
    more time.
    """
    batching: dict[str, Any] = {"linger_ms": 10, "batch_size": 512 * 1024} if bulk else {"linger_ms": 0}
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        max_request_size=MAX_RECORD_BYTES,
        acks="all",
        retries=5,
        max_in_flight_requests_per_connection=1,
        request_timeout_ms=30_000 if bulk else 10_000,
        **batching,
    )


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    topics: Sequence[str],
    profile: str,
    client_id: str = "kairos",
    max_poll_records: int = 200,
) -> KafkaConsumer:
    """A consumer with manual commits from the earliest offset (never 'latest' on Tansu)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        **consumer_settings(profile),
    )
    consumer.subscribe(list(topics))
    return consumer


def send_records(producer: KafkaProducer, items: Iterable[tuple[str, KafkaRecord]], timeout: float = 10.0) -> None:
    """Send (topic, record) pairs and wait until the broker acknowledged every one.

    Raises TransientError naming the topic when the broker does not acknowledge in time.
    """
    futures = []
    for topic, record in items:
        futures.append((topic, producer.send(topic, key=record.key, value=record.value, headers=list(record.headers))))
    producer.flush(timeout=timeout)
    for topic, fut in futures:
        try:
            fut.get(timeout=timeout)
        except KafkaError as exc:
            raise TransientError(f"broker did not acknowledge a record on {topic}: {exc}") from exc


def ensure_topics(
    bootstrap: str, topics: Iterable[tuple[str, int, dict[str, str]]], timeout: float = 30.0
) -> list[str]:
    """Create missing topics (name, partitions, configs); returns the names created."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="kairos-admin")
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise TransientError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
            time.sleep(0.5)
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for name, partitions, configs in topics:
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created


def ensure_catalog_topics(bootstrap: str) -> list[str]:
    """Create every topic of the catalog with its partitions and retention."""
    from kairos.catalog import load_catalog

    catalog = load_catalog()
    return ensure_topics(
        bootstrap,
        [(t.name, t.partitions, {"retention.ms": str(t.retention_ms)}) for t in catalog.topics],
    )
