"""strategy-engine as the platform runs it: a norm.candle CloudEvent in, signals and intents in
the outbox (published on their topics), a redelivery answered without a second effect."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos_testkit.events import ping_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.strategies import SHADOW, candle_events, create_and_start, example, migrated, with_doc
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.venue_sim import START_MS, running_venue_sim

NAME = "strategy-engine"


def test_refuses_event_types_it_does_not_subscribe_to(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap)
    with in_process(NAME, runtime_env(database_url, kafka_bootstrap)) as fn:
        outcome = fn.process(ping_event("/tests/cron/strategy-engine", datetime.now(UTC)))
        assert (outcome.status, outcome.code) == (400, "unexpected_event_type"), outcome.reason


def test_candles_become_signals_and_intents_on_their_topics_once(database_url: str, kafka_bootstrap: str) -> None:
    db = migrated(database_url)
    create_topics(kafka_bootstrap)
    spec = with_doc(example("sma-crossover"), account=SHADOW)
    create_and_start(db, spec)
    with running_venue_sim(seed=11, warmup_ticks=0, start_ms=START_MS, tick_ms=1000) as sim:
        sim.control.step(ticks=3600)
        candles = candle_events(db, sim)
    with in_process(NAME, runtime_env(db, kafka_bootstrap)) as fn:
        outcomes = [fn.process(to_cloudevent(c)) for c in candles]
        assert {o.status for o in outcomes} == {204}
        emitted = [t for o in outcomes for t in o.emitted]
        again = [fn.process(to_cloudevent(c)) for c in candles]  # redelivered
        assert all(o.status == 204 and not o.emitted for o in again)
    with psycopg.connect(db) as conn:
        intents = conn.execute("SELECT count(*) FROM strategy_decisions").fetchone()
    assert intents is not None and intents[0] >= 2
    assert len(emitted) == 2 * intents[0]  # one signal and one intent per decision
    signals = record_envelopes(read_topic(kafka_bootstrap, "signal.generated", expect=intents[0]))
    orders = record_envelopes(read_topic(kafka_bootstrap, "cmd.order_intent", expect=intents[0]))
    assert [s.data.signal_id for s in signals] == [o.data.signal_id for o in orders]
    assert all(o.data.account == SHADOW and o.meta.partition_key == f"{SHADOW}|{o.data.symbol}" for o in orders)
