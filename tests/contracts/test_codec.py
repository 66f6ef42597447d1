"""The CloudEvents codec: the same event survives Kafka and HTTP (binary + structured) unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from kairos.contracts import codec
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import derive_event, new_event
from kairos.contracts.market import Asset, SwapDemand
from kairos.errors import InvalidEvent, UnknownEventType, UnsupportedSchemaVersion


def demand_event():
    demand = SwapDemand(
        quote_id="q-1",
        asset_in=Asset(symbol="NEAR", venue_id="nep141:wrap.near", decimals=24),
        asset_out=Asset(symbol="USDC", venue_id="nep141:usdc", decimals=6),
        pair="NEAR/USDC",
        side="sell",
        amount_kind="exact_in",
        amount=Decimal("1.25"),
        amount_raw="1250000000000000000000000",
        amount_asset="NEAR",
        deadline=datetime(2026, 1, 1, tzinfo=UTC),
        min_deadline_ms=60000,
    )
    return new_event(demand, source="/kairos/test", partition_key="q-1", venue="near_intents")


def test_event_round_trips_through_kafka_binary_mode_unchanged():
    env = demand_event()
    record = codec.to_kafka(env)
    assert record.key == b"q-1"
    names = {k for k, _ in record.headers}
    assert {"ce_id", "ce_type", "ce_source", "ce_time", "ce_schemaversion", "ce_correlationid", "content-type"} <= names
    assert codec.from_kafka(record) == env


@pytest.mark.parametrize("encode", [codec.to_http_binary, codec.to_http_structured])
def test_event_round_trips_through_http_unchanged(encode):
    env = demand_event()
    headers, body = encode(env)
    assert codec.from_http(headers, body) == env


def test_amounts_travel_as_strings_never_numbers():
    record = codec.to_kafka(demand_event())
    assert b'"amount":"1.25"' in record.value.replace(b" ", b"")


def test_derived_event_keeps_correlation_and_names_its_cause():
    cause = demand_event()
    cmd = ExecuteTrade(
        command_id="c" * 16, account="a", venue="v", symbol="NEAR/USDC", side="buy", quantity="1", strategy_id="s"
    )
    out = derive_event(cause, cmd, source="/kairos/reactor", partition_key="a|NEAR/USDC")
    assert out.meta.correlation_id == cause.meta.correlation_id
    assert out.meta.causation_id == cause.meta.id
    again = derive_event(cause, cmd, source="/kairos/reactor", partition_key="a|NEAR/USDC")
    assert again.meta.id == out.meta.id, "same input, same output id: downstream inboxes dedupe"


def test_plain_record_is_wrapped_like_knative_kafkasource():
    rec = codec.KafkaRecord(key=b"k1", value=b"hello", headers=())
    ce = codec.wrap_plain_record(rec, topic="t", partition=2, offset=7, source="/src")
    assert ce.get_id() == "partition:2/offset:7"
    assert ce.get_type() == "dev.knative.kafka.event"
    assert ce.get_extension("partitionkey") == "k1"
    assert not codec.is_cloudevent_record(rec)


def test_unknown_type_and_version_are_refused_with_reason():
    env = demand_event()
    ce = codec.to_cloudevent(env.with_meta(type="kairos.norm.nonsense"))
    with pytest.raises(UnknownEventType, match="unknown event type"):
        codec.from_cloudevent(ce)
    ce = codec.to_cloudevent(env.with_meta(schema_version=9))
    with pytest.raises(UnsupportedSchemaVersion, match="supported: \\[1\\]"):
        codec.from_cloudevent(ce)


def test_invalid_payload_lists_every_problem():
    env = demand_event()
    ce = codec.to_cloudevent(env)
    data = dict(ce.get_data())  # type: ignore[arg-type]
    data["amount"] = 1.25
    data.pop("pair")
    bad = codec.CloudEvent(attributes=dict(ce.get_attributes()), data=data)
    with pytest.raises(InvalidEvent) as err:
        codec.from_cloudevent(bad)
    assert "amount" in str(err.value) and "pair" in str(err.value)


def test_non_json_body_is_invalid_event():
    headers, _ = codec.to_http_binary(demand_event())
    with pytest.raises(InvalidEvent):
        codec.from_http(headers, b"{not json")
