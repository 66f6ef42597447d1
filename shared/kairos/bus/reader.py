"""Read whole topics from the beginning: what the operator commands and the API show."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from kairos.bus.kafka import consumer_settings


def read_topics(
    bootstrap: str,
    topics: Sequence[str],
    *,
    profile: str = "tansu",
    idle: float = 0.8,
    grace: float = 0.3,
    timeout: float = 20.0,
) -> list[Any]:
    """Every record of ``topics`` (ConsumerRecords, in partition order)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        client_id="kairos-reader",
        **consumer_settings(profile),
    )
    try:
        tps = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or set())
        ]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        grace_until: float | None = None
        while time.monotonic() < deadline and time.monotonic() - last_new < idle:
            for batch in consumer.poll(timeout_ms=100).values():
                if batch:
                    records.extend(batch)
                    last_new = time.monotonic()
            if grace_until is None and all(consumer.position(tp) >= (ends.get(tp) or 0) for tp in tps):
                grace_until = time.monotonic() + grace  # end offsets may be a batch short: read a bit more
            if grace_until is not None and time.monotonic() >= grace_until:
                break
        return records
    finally:
        consumer.close()
