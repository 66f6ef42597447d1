"""Crash recovery: RECOVERING (readiness and deliveries answer 503) until every in-flight
order was reconciled, then HEALTHY, RECOVERY_COMPLETE, and strategies stay stopped."""

from __future__ import annotations

from decimal import Decimal

import psycopg
from kairos.contracts.codec import to_cloudevent
from kairos_testkit.execution import VENUE_SYMBOL, command, db_order, deliver, drive, exec_env, runtime, setup_account
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.waiting import wait_until


def test_restart_reconciles_in_flight_orders_before_accepting_commands(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    resting = command(order_type="limit", limit_price=Decimal("59000"))
    filled_while_down = command(order_type="limit", limit_price=Decimal("59900"))
    with runtime(database_url) as rt:  # the previous executor process
        drive(rt, resting)
        drive(rt, filled_while_down)
    sim.control.set_price(VENUE_SYMBOL, "59850")
    sim.control.step(ticks=2)
    # slow venue lookups so that the RECOVERING window is observable
    sim.control.set_faults([{"kind": "latency", "endpoint": "GET /fapi/v1/order", "latency_ms": 600}])
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("executor", env) as fn:
        ok, why = fn.ready()
        assert not ok and why.startswith("RECOVERING")
        newcomer = command(quantity="0.010")
        assert fn.process(to_cloudevent(newcomer)).status == 503  # redelivered later, not lost
        wait_until(lambda: fn.ready()[0], timeout=30, message="HEALTHY")
        assert fn.ready() == (True, "HEALTHY")
        assert db_order(database_url, filled_while_down.data.command_id)["state"] == "FILLED"
        assert db_order(database_url, resting.data.command_id)["state"] == "OPEN"
        sim.control.clear_faults()
        assert deliver(fn, newcomer) == 204
    assert db_order(database_url, newcomer.data.command_id)["state"] == "FILLED"
    with psycopg.connect(database_url) as conn:
        stopped = conn.execute("SELECT stopped, updated_by FROM strategy_control WHERE scope = 'all'").fetchone()
    assert stopped == (True, "executor")
    alerts = record_envelopes(read_topic(kafka_bootstrap, "ops.alert", expect=1))
    done = [a for a in alerts if a.data.code == "RECOVERY_COMPLETE"]
    assert len(done) == 1 and done[0].data.details["in_flight"] == 2 and done[0].data.details["strategies_stopped"]


def test_a_venue_that_cannot_answer_keeps_the_executor_recovering(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    with runtime(database_url) as rt:
        drive(rt, command(order_type="limit", limit_price=Decimal("59000")))
    sim.control.set_faults([], maintenance=True)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("executor", env) as fn:
        import time

        time.sleep(3)
        assert fn.ready()[0] is False  # a failed query is not an answer: still RECOVERING
        sim.control.clear_faults()
        wait_until(lambda: fn.ready()[0], timeout=20, message="HEALTHY after the venue came back")
