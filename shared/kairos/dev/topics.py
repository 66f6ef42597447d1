"""Read whole topics from the beginning, without a consumer group.

Tansu's end offsets are off by up to a batch, so "the end" is found by reading until
the broker has had nothing new for a moment, not by asking for end offsets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from kairos.bus.kafka import consumer_settings


def read_topics(
    bootstrap: str, topics: Sequence[str], *, profile: str = "tansu", idle: float = 0.8, timeout: float = 20.0
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
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_new < idle:
            for batch in consumer.poll(timeout_ms=100).values():
                if batch:
                    records.extend(batch)
                    last_new = time.monotonic()
        return records
    finally:
        consumer.close()
