"""The broker as the tests see it: the catalog's topics created, and every record of a topic read
back from the beginning (a consumer of its own, no group) and decoded into envelopes."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kairos.bus.kafka import TANSU_CONSUMER_SETTINGS, ensure_catalog_topics
from kairos.contracts.codec import KafkaRecord, from_kafka
from kairos.contracts.envelope import Envelope


def create_topics(bootstrap: str) -> None:
    ensure_catalog_topics(bootstrap)


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 20.0, settle: float = 0.5) -> list[Any]:
    """Every record of ``topic`` from the beginning, waiting until ``expect`` have arrived.

    After reaching ``expect`` it keeps reading for ``settle`` seconds so that an extra,
    unexpected record (a duplicate) is seen too.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        **TANSU_CONSUMER_SETTINGS,
    )
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    settled_at: float | None = None
    while time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            records.extend(batch)
        if len(records) >= expect:
            settled_at = settled_at or time.monotonic()
            if time.monotonic() - settled_at >= settle:
                break
    consumer.close()
    return records


def record_envelopes(records: list[Any]) -> list[Envelope[Any]]:
    return [
        from_kafka(KafkaRecord(key=r.key, value=r.value, headers=tuple((k, v) for k, v in r.headers))) for r in records
    ]
