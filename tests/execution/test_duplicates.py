"""Idempotency at the venue: redeliveries, concurrent duplicates on two executor instances,
and responses lost after the venue executed the request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from kairos.execution.client_ids import client_order_id, is_ours
from kairos_testkit.execution import command, deliver, exec_env, outbox_counts, setup_account, venue_orders_by_cid
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics


@pytest.fixture
def executors(database_url, sim, kafka_bootstrap):
    """Two executor instances (as two Knative pods) on the same database and venue."""
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("executor", env) as a, in_process("executor", env) as b:
        yield a, b


def _final_states(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT command_id, state FROM orders").fetchall())


def test_each_command_delivered_five_times_some_concurrently_makes_one_venue_order(executors, sim, database_url):
    a, b = executors
    commands = [command(quantity="0.010") for _ in range(12)]

    def five_times(i: int) -> list[int]:
        env = commands[i]
        other = env.with_meta(id=f"{env.meta.id}-again")  # the same command re-emitted as a new event
        statuses = [deliver(a, env)]  # first delivery
        with ThreadPoolExecutor(3) as pool:  # three at once, on two instances, two event ids
            statuses += list(pool.map(lambda args: deliver(*args), [(a, env), (b, env), (b, other)]))
        statuses.append(deliver(a, other))  # and once more, late
        return statuses

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(five_times, range(len(commands))))
    assert all(s == 204 for statuses in results for s in statuses), results
    venue = venue_orders_by_cid(sim)
    for env in commands:
        assert len(venue[client_order_id(env.data.command_id)]) == 1
    assert len([cid for cid in venue if is_ours(cid)]) == len(commands)
    assert set(_final_states(database_url).values()) == {"FILLED"}
    assert outbox_counts(database_url, "kairos.exec.trade_result") == (len(commands), len(commands))
    fills = outbox_counts(database_url, "kairos.exec.fill")
    assert fills[0] == fills[1] >= len(commands)


def test_lost_responses_on_a_fifth_of_creates_leave_no_duplicate_and_every_command_final(executors, sim, database_url):
    a, b = executors
    sim.control.set_faults(
        [{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "probability": 0.2, "hold_ms": 1500}]
    )
    commands = [command(quantity="0.010") for _ in range(40)]
    lock = threading.Lock()
    statuses: list[int] = []

    def run(i: int) -> None:
        s = deliver(a if i % 2 else b, commands[i], timeout=60)
        with lock:
            statuses.append(s)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, range(len(commands))))
    audit = sim.control.audit()
    lost = [r for r in audit if r.get("faults") and "lost_response" in str(r["faults"])]
    assert lost, "the fault was injected at least once"
    assert statuses == [204] * len(commands)
    venue = venue_orders_by_cid(sim)
    for env in commands:
        assert len(venue[client_order_id(env.data.command_id)]) == 1, env.data.command_id
    assert set(_final_states(database_url).values()) == {"FILLED"}
    with psycopg.connect(database_url) as conn:
        unknowns = conn.execute("SELECT count(*) FROM order_events WHERE to_state = 'UNKNOWN'").fetchone()
    assert unknowns is not None and unknowns[0] >= 1  # timeouts were recorded as UNKNOWN, never as failed
