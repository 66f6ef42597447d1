"""Dead letters through the API on a real broker: list, show, replay through the outbox."""

from __future__ import annotations

import psycopg
from kairos.bus.kafka import make_producer, send_records
from kairos.contracts.codec import cloudevent_to_kafka, to_cloudevent
from kairos_testkit.events import quote_event
from kairos_testkit.topics import create_topics

from tests.api.conftest import ApiHarness


def test_list_show_and_replay_a_dead_letter(api: ApiHarness, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    event = quote_event("api-dlq-1")
    ce = to_cloudevent(event)
    ce = type(ce)(attributes={**ce.get_attributes(), "knativeerrorcode": "422"}, data=ce.get_data())
    producer = make_producer(kafka_bootstrap, client_id="test-api-dlq")
    try:
        send_records(producer, [("dlq.normalize-near-intents", cloudevent_to_kafka(ce))])
    finally:
        producer.close(timeout=5)
    client = api.make(kafka_bootstrap=kafka_bootstrap, kafka_profile="tansu")
    viewer = api.login(client, "viewer")
    listed = client.get("/api/v1/dead-letters?function=normalize-near-intents", headers=viewer).json()["items"]
    assert [(x["id"], x["code"]) for x in listed] == [(event.meta.id, "422")]
    ref = listed[0]["ref"]
    shown = client.get(f"/api/v1/dead-letters/{ref}", headers=viewer).json()
    assert shown["original_topic"] == "raw.near_intents.quote" and shown["data"]
    replay = f"/api/v1/dead-letters/{ref}/replay"
    assert client.post(replay, json={}, headers={**viewer, "Idempotency-Key": "replay-0001"}).status_code == 403
    admin = {**api.login(client, "admin"), "Idempotency-Key": "replay-0001"}
    first = client.post(replay, json={}, headers=admin)
    assert first.status_code == 202, first.text
    again = client.post(replay, json={}, headers=admin)
    assert again.json() == first.json()
    with psycopg.connect(api.url) as conn:
        rows = conn.execute("SELECT topic, event_id, producer FROM outbox").fetchall()
        trail = conn.execute("SELECT action, target, outcome FROM api_audit").fetchall()
    assert rows == [("raw.near_intents.quote", event.meta.id, "api")]  # one replay, keeping the event id
    assert trail == [("dead_letter.replay", ref, "ok")]
    marked = client.get("/api/v1/dead-letters", headers=viewer).json()["items"]  # Kafka keeps it: marked replayed
    assert [(x["topic"], x["function"], x["replayed_by"]) for x in marked] == [
        ("dlq.normalize-near-intents", "normalize-near-intents", "admin")
    ]
    assert marked[0]["replayed_at"] and marked[0]["time"]
    assert client.get("/api/v1/dead-letters/dlq.reactor:0:999", headers=viewer).status_code == 404
    assert client.get("/api/v1/dead-letters?function=no-such-function", headers=viewer).status_code == 404
