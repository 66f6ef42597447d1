"""Crash recovery: RECOVERING (readiness and deliveries answer 503) until every in-flight
order (outcome unknown) was reconciled, then HEALTHY, RECOVERY_COMPLETE, and strategies stay
stopped. Resting orders alone are not in flight: that start is clean and stops nothing."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from kairos.contracts.codec import to_cloudevent
from kairos.errors import TransientError
from kairos_testkit.execution import VENUE_SYMBOL, command, db_order, deliver, drive, exec_env, runtime, setup_account
from kairos_testkit.functions import in_process, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.waiting import wait_until


def leave_unanswered(rt, sim, env) -> None:
    """The previous process died with this order sent but unanswered: the venue executed it,
    the response and every lookup were lost, so it stays UNKNOWN (in flight)."""
    sim.control.set_faults([{"kind": "lost_response", "endpoint": "POST /fapi/v1/order", "hold_ms": 1500},
                            {"kind": "http_error", "endpoint": "GET /fapi/v1/order"}])
    with pytest.raises(TransientError):
        rt.service.execute(env.data, env)
    sim.control.clear_faults()


def test_restart_reconciles_in_flight_orders_before_accepting_commands(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    resting = command(order_type="limit", limit_price=Decimal("59000"))
    filled_while_down = command(order_type="limit", limit_price=Decimal("59900"))
    unanswered = command(quantity="0.020")
    with runtime(database_url) as rt:  # the previous executor process
        drive(rt, resting)
        drive(rt, filled_while_down)
        leave_unanswered(rt, sim, unanswered)
    assert db_order(database_url, unanswered.data.command_id)["state"] == "UNKNOWN"
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
        assert db_order(database_url, unanswered.data.command_id)["state"] == "FILLED"
        sim.control.clear_faults()
        assert deliver(fn, newcomer) == 204
    assert db_order(database_url, newcomer.data.command_id)["state"] == "FILLED"
    with psycopg.connect(database_url) as conn:
        stopped = conn.execute("SELECT stopped, updated_by FROM strategy_control WHERE scope = 'all'").fetchone()
    assert stopped == (True, "executor")
    alerts = record_envelopes(read_topic(kafka_bootstrap, "ops.alert", expect=1))
    done = [a for a in alerts if a.data.code == "RECOVERY_COMPLETE"]
    assert len(done) == 1 and done[0].data.details["in_flight"] == 1 and done[0].data.details["strategies_stopped"]


def test_a_venue_that_cannot_answer_keeps_the_executor_recovering(database_url, sim, kafka_bootstrap):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    with runtime(database_url) as rt:
        drive(rt, command(order_type="limit", limit_price=Decimal("59000")))
        leave_unanswered(rt, sim, command())
    sim.control.set_faults([], maintenance=True)
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("executor", env) as fn:
        import time

        time.sleep(3)
        assert fn.ready()[0] is False  # a failed query is not an answer: still RECOVERING
        sim.control.clear_faults()
        wait_until(lambda: fn.ready()[0], timeout=20, message="HEALTHY after the venue came back")


def test_a_clean_restart_with_only_resting_orders_is_healthy_at_once_and_stops_nothing(
    database_url, sim, kafka_bootstrap
):
    create_topics(kafka_bootstrap)
    setup_account(database_url, sim)
    with runtime(database_url) as rt:  # the previous process: resting orders only, every answer known
        for price in ("59000", "58000", "57000"):
            drive(rt, command(order_type="limit", limit_price=Decimal(price)))
    sim.control.set_faults([], maintenance=True)  # a clean start does not even need the venue
    env = {**runtime_env(database_url, kafka_bootstrap), **exec_env(database_url)}
    with in_process("executor", env) as fn:
        assert fn.ready() == (True, "HEALTHY")
    sim.control.clear_faults()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM strategy_control WHERE stopped").fetchone() == (0,)
    done = [a for a in record_envelopes(read_topic(kafka_bootstrap, "ops.alert", expect=1))
            if a.data.code == "RECOVERY_COMPLETE"][-1]  # the topic may hold earlier tests' alerts
    assert done.data.severity == "info" and done.data.details["run_id"].startswith("clean-")
    assert done.data.details["in_flight"] == 0 and not done.data.details["strategies_stopped"]
