"""process_batch: many events in one transaction (replay/backfill), each in its own savepoint."""

from __future__ import annotations

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos_testkit.events import quote_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes


def test_batch_handles_good_events_refuses_bad_ones_and_dedupes(database_url, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    good = [quote_event(f"qb-{i}") for i in range(5)]
    bad = quote_event("qb-bad", exact_amount_in="-1")
    events = [*good[:2], bad, *good[2:], good[0]]  # a bad one in the middle, a duplicate at the end
    with in_process("normalize-near-intents", runtime_env(database_url, kafka_bootstrap)) as fn:
        outcomes = fn.process_batch([to_cloudevent(e) for e in events])
    assert [o.status for o in outcomes] == [204, 204, 400, 204, 204, 204, 204]
    assert outcomes[-1].duplicate and outcomes[2].code == "invalid_event"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM inbox").fetchone() == (5,)
    assert len(read_topic(kafka_bootstrap, "norm.swap_demand", 5)) == 5


def test_batch_fast_path_claims_and_writes_in_bulk_and_dedupes(database_url, kafka_bootstrap):
    """No refusal: one claim statement, one pipelined outbox insert; copies within the batch and
    a second run of the whole batch are duplicates; each output row carries its own event."""
    create_topics(kafka_bootstrap)
    good = [quote_event(f"qf-{i}") for i in range(6)]
    with in_process("normalize-near-intents", runtime_env(database_url, kafka_bootstrap)) as fn:
        first = fn.process_batch([to_cloudevent(e) for e in [*good, good[3]]])
        again = fn.process_batch([to_cloudevent(e) for e in good])
    assert [o.duplicate for o in first] == [False] * 6 + [True]
    assert all(o.duplicate for o in again)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM inbox").fetchone() == (6,)
        rows = conn.execute("SELECT event_id, convert_from(value, 'UTF8') FROM outbox ORDER BY id").fetchall()
    assert len(rows) == 6
    assert [f"qf-{i}" in value for i, (_eid, value) in enumerate(rows)] == [True] * 6
    assert [eid for eid, _v in rows] == [o.emitted[0] for o in first[:6]]
    demands = {e.data.quote_id for e in record_envelopes(read_topic(kafka_bootstrap, "norm.swap_demand", 6))}
    assert {f"qf-{i}" for i in range(6)} <= demands
