"""The function runtime against real Postgres and a real broker (in-process handler path)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from kairos.contracts.codec import to_cloudevent
from kairos.contracts.commands import ExecuteTrade
from kairos.contracts.envelope import new_event
from kairos.runtime.db import apply_migrations, migration_files
from kairos_testkit.events import ping_event, quote_event
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes


def command_event(command_id: str = "cmd-0000000001"):
    cmd = ExecuteTrade(
        command_id=command_id,
        account="paper-near-intents",
        venue="near_intents",
        symbol="NEAR/USDC",
        side="buy",
        quantity=Decimal("2"),
        strategy_id="t",
    )
    return new_event(cmd, source="/test", partition_key="paper|NEAR/USDC")


@pytest.fixture(scope="module")
def broker(kafka_bootstrap):
    create_topics(kafka_bootstrap)
    return kafka_bootstrap


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def test_command_delivered_three_times_executes_once_with_identical_results(database_url, broker):
    env = runtime_env(database_url, broker)
    event = command_event("cmd-dup-000001")
    with in_process("executor", env) as fn:
        outcomes = [fn.process(to_cloudevent(event)) for _ in range(3)]
        # the same command arriving as a NEW event (e.g. re-emitted upstream) is answered the same way
        again = fn.process(to_cloudevent(event.with_meta(id="a-different-event-id")))
    assert [o.status for o in outcomes] == [204, 204, 204]
    assert [o.duplicate for o in outcomes] == [False, True, True]
    assert again.emitted == outcomes[0].emitted, "re-emitted result has the same event id"
    assert count(database_url, "SELECT count(*) FROM paper_executions") == 1
    results = record_envelopes(read_topic(broker, "exec.trade_result", 2))
    mine = [r for r in results if r.data.command_id == "cmd-dup-000001"]
    assert len(mine) == 2 and mine[0] == mine[1], "identical result events (downstream inbox dedupes)"


def test_concurrent_duplicates_run_the_handler_once(database_url, broker):
    env = runtime_env(database_url, broker)
    event = command_event("cmd-conc-00001")
    with in_process("executor", env) as fn:
        outcomes = []
        threads = [threading.Thread(target=lambda: outcomes.append(fn.process(to_cloudevent(event)))) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(o.duplicate for o in outcomes) == [False, True, True, True, True]
    assert count(database_url, "SELECT count(*) FROM paper_executions WHERE command_id = 'cmd-conc-00001'") == 1


def test_crash_after_commit_before_publish_is_relayed_exactly_once(database_url, broker):
    env = runtime_env(database_url, broker, KAIROS_OUTBOX_RELAY_GRACE_S="0")
    event = quote_event("q-crash")
    with in_process("normalize-near-intents", env) as fn:
        fn.publish_rows = lambda rows: None  # type: ignore[method-assign]  # the process "dies" right after commit
        outcome = fn.process(to_cloudevent(event))
    assert outcome.status == 204
    assert count(database_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
    with in_process("outbox-relay", env) as relay:
        t = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        assert relay.process(ping_event("/apis/v1/namespaces/kairos/pingsources/r", t)).status == 204
        t2 = datetime(2026, 11, 23, 12, 1, tzinfo=UTC)
        assert relay.process(ping_event("/apis/v1/namespaces/kairos/pingsources/r", t2)).status == 204
    assert count(database_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    demands = [e for e in record_envelopes(read_topic(broker, "norm.swap_demand", 1)) if e.data.quote_id == "q-crash"]
    assert len(demands) == 1


def test_cron_tick_delivered_twice_runs_once(database_url, broker):
    env = runtime_env(database_url, broker)
    slot = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    with in_process("outbox-relay", env) as relay:
        first = relay.process(ping_event("/apis/v1/namespaces/kairos/pingsources/x", slot))
        second = relay.process(ping_event("/apis/v1/namespaces/kairos/pingsources/x", slot))  # new random id
    assert (first.duplicate, second.duplicate) == (False, True)


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda e: e.with_meta(type="kairos.norm.swap_demand"), 400, "unexpected_event_type"),
        (lambda e: e.with_meta(schema_version=7), 400, "unsupported_schema_version"),
        (lambda e: quote_event("q-bad", exact_amount_in="-3"), 400, "invalid_event"),
        (lambda e: quote_event("q-big", padding="x" * 1_100_000), 413, "event_too_large"),
    ],
)
def test_bad_input_is_refused_with_reason_and_changes_nothing(database_url, broker, mutate, status, code):
    env = runtime_env(database_url, broker)
    with in_process("normalize-near-intents", env) as fn:
        before = count(database_url, "SELECT count(*) FROM outbox")
        outcome = fn.process(to_cloudevent(mutate(quote_event("q-ok"))))
        assert (outcome.status, outcome.code) == (status, code)
        assert outcome.reason
        assert count(database_url, "SELECT count(*) FROM outbox") == before
        assert count(database_url, "SELECT count(*) FROM inbox") == 0
        # and the next good event flows
        assert fn.process(to_cloudevent(quote_event("q-next"))).status == 204


def test_transient_database_failure_answers_503_not_4xx(database_url, broker):
    env = runtime_env(database_url, broker)
    with in_process("normalize-near-intents", env) as fn:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("ALTER TABLE inbox RENAME TO inbox_away")
            try:
                outcome = fn.process(to_cloudevent(quote_event("q-transient")))
            finally:
                admin.execute("ALTER TABLE inbox_away RENAME TO inbox")
        assert outcome.status == 503 and outcome.code == "database_unavailable"
        assert fn.process(to_cloudevent(quote_event("q-transient"))).status == 204


def test_migrations_from_many_instances_at_once_apply_once(database_url):
    errors: list[Exception] = []

    def migrate():
        try:
            with psycopg.connect(database_url) as conn:
                apply_migrations(conn)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(database_url, "SELECT count(*) FROM schema_migrations") == len(migration_files())


def test_missing_configuration_names_the_variable():
    from kairos.errors import ConfigError
    from kairos.runtime.loader import load_func_module

    fn = load_func_module("reactor").new()
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        fn.start({"KAFKA_BOOTSTRAP_SERVERS": "x:1"})
