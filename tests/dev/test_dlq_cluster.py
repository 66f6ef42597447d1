"""``kairos dlq --bootstrap-server``: list and replay dead letters on a broker that no
``kairos dev`` runs (a cluster's Kafka), with the catalog naming the original topic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kairos.bus.kafka import make_producer, send_records
from kairos.cli import main
from kairos.contracts.codec import cloudevent_to_kafka, to_cloudevent
from kairos_testkit.events import quote_event
from kairos_testkit.topics import create_topics, read_topic


def test_list_and_replay_against_a_broker_without_kairos_dev(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_topics(kafka_bootstrap)
    event = quote_event("dlq-cluster-1")
    ce = to_cloudevent(event)
    ce = type(ce)(attributes={**ce.get_attributes(), "knativeerrorcode": "422"}, data=ce.get_data())
    producer = make_producer(kafka_bootstrap, client_id="test-dlq")
    try:
        send_records(producer, [("dlq.normalize-near-intents", cloudevent_to_kafka(ce))])
    finally:
        producer.close(timeout=5)
    state = tmp_path / "state"
    common = ["dlq", "--bootstrap-server", kafka_bootstrap, "--state-dir", str(state)]
    assert main([*common, "list", "--json", "--function", "normalize-near-intents"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["id"] for x in listed] == [event.meta.id] and listed[0]["code"] == "422"
    assert main([*common, "replay", event.meta.id]) == 0
    assert "replayed 1" in capsys.readouterr().out
    replayed = read_topic(kafka_bootstrap, "raw.near_intents.quote", expect=1)
    assert any(b"dlq-cluster-1" in r.value for r in replayed)
    assert "dlq.normalize-near-intents" in (state / "dlq-replayed.log").read_text()


def test_without_kairos_dev_or_a_bootstrap_server_it_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "--state-dir", str(tmp_path), "list"]) == 2
    assert "kairos dlq:" in capsys.readouterr().err
