"""Size limits agree at every hop: function, request, producer, broker (issue: a record the
function refused as too large could not be dead-lettered because the producer's limit was
smaller than the event plus its headers)."""

from __future__ import annotations

import yaml
from kairos.bus.kafka import make_producer
from kairos.contracts.limits import EVENT_OVERHEAD_BYTES, MAX_EVENT_BYTES, MAX_RECORD_BYTES, MAX_REQUEST_BYTES
from kairos.runtime.config import RuntimeSettings
from kairos_testkit.paths import REPO


def test_each_hop_allows_more_than_the_one_before():
    assert MAX_EVENT_BYTES + EVENT_OVERHEAD_BYTES == MAX_REQUEST_BYTES < MAX_RECORD_BYTES


def test_the_broker_and_the_runtime_config_use_the_same_limits():
    kafka = yaml.safe_load((REPO / "k8s/platform/kafka/kafka.yaml").read_text())
    config = kafka["spec"]["kafka"]["config"]
    assert config["message.max.bytes"] == MAX_RECORD_BYTES
    assert config["replica.fetch.max.bytes"] >= MAX_RECORD_BYTES
    runtime = yaml.safe_load((REPO / "k8s/app/runtime-config.yaml").read_text())
    assert int(runtime["data"]["KAIROS_MAX_EVENT_BYTES"]) <= MAX_EVENT_BYTES


def test_producers_accept_a_whole_record_of_the_broker_limit(kafka_bootstrap):
    producer = make_producer(kafka_bootstrap)
    try:
        assert producer.config["max_request_size"] == MAX_RECORD_BYTES
    finally:
        producer.close(timeout=5)


def test_a_function_limit_above_the_record_limit_is_refused_at_start():
    import pytest
    from kairos.errors import ConfigError

    env = {"DATABASE_URL": "postgresql:///x", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}
    assert RuntimeSettings.from_env(env).max_event_bytes == MAX_EVENT_BYTES
    with pytest.raises(ConfigError, match="KAIROS_MAX_EVENT_BYTES"):
        RuntimeSettings.from_env({**env, "KAIROS_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES * 2)})
