"""The execution path's metrics: order outcomes and submit latency, the venue clock drift
(clock guard and the executor's check at start-up), reconciliation errors."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from kairos.execution import clock
from kairos.execution.clock_guard import check_all
from kairos.execution.executor import Executor
from kairos.runtime.recorder import OutboxRow
from kairos_testkit.execution import ACCOUNT, command, db_order, drive, exec_env, runtime, setup_account
from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_orders_are_counted_by_outcome_and_timed(database_url: str, sim: Any) -> None:
    setup_account(database_url, sim)
    before = {o: sample("kairos_orders_total", venue="binanceusdm", outcome=o) for o in ("accepted", "unknown")}
    timed = sample("kairos_order_submit_seconds_count", venue="binanceusdm")
    with runtime(database_url) as rt:
        filled = command()
        drive(rt, filled)
        assert db_order(database_url, filled.data.command_id)["state"] == "FILLED"
        sim.control.set_faults([{"kind": "http_error", "endpoint": "POST /fapi/v1/order", "status": 503, "count": 1}])
        unknown = command()
        drive(rt, unknown)
    got = {o: sample("kairos_orders_total", venue="binanceusdm", outcome=o) - before[o] for o in before}
    # the 503 left the second order unknown; the venue then said it did not know it, so it was
    # sent again (same client id) and accepted: three submissions, each counted and timed
    assert got == {"accepted": 2.0, "unknown": 1.0}
    assert sample("kairos_order_submit_seconds_count", venue="binanceusdm") == timed + 3


def test_a_venue_rejection_is_counted(database_url: str, sim: Any) -> None:
    setup_account(database_url, sim)
    before = sample("kairos_orders_total", venue="binanceusdm", outcome="rejected")
    with runtime(database_url) as rt:
        too_big = command(quantity="5000")
        drive(rt, too_big)
    assert db_order(database_url, too_big.data.command_id)["state"] == "REJECTED"
    assert sample("kairos_orders_total", venue="binanceusdm", outcome="rejected") == before + 1


def test_time_drift_seconds_follows_the_last_measurement(database_url: str, sim: Any) -> None:
    setup_account(database_url, sim)
    sim.control.set_faults([], clock_offset_ms=-1800)
    with psycopg.connect(database_url, autocommit=True) as conn:
        check_all(conn, timeout_ms=2000)
    assert -2.0 < sample("time_drift_seconds", account=ACCOUNT) < -1.6
    sim.control.clear_faults()
    with psycopg.connect(database_url, autocommit=True) as conn:
        check_all(conn, timeout_ms=2000)
    assert abs(sample("time_drift_seconds", account=ACCOUNT)) < 0.5


def test_the_executor_measures_the_clock_when_it_starts(database_url: str, sim: Any) -> None:
    """Without the start-up check, the first entry would be judged on no reading (not blocked)."""
    setup_account(database_url, sim)
    sim.control.set_faults([], clock_offset_ms=6500)
    published: list[OutboxRow] = []
    executor = Executor()
    executor.start(exec_env(database_url), "executor", published.extend)
    try:
        with psycopg.connect(database_url) as conn:
            stored = clock.latest(conn, ACCOUNT)
        assert stored is not None and stored.offset_ms > 6000
        alerts = [json.loads(bytes(r.record.value)) for r in published if r.topic == "ops.alert"]
        drift = [a for a in alerts if a.get("code") == "CLOCK_DRIFT"]
        assert drift and drift[0]["severity"] == "critical"
        assert 6.0 < sample("time_drift_seconds", account=ACCOUNT) < 7.0
    finally:
        executor.stop_recovery()
        executor.close()
